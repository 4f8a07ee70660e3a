// pybind11_peer: the NumPy functions of ndbind_test.bench (CONFORMANCE.md §5)
// plus shape/sum_f64/scale (§2) and Point (§4), in plain, idiomatic pybind11
// (py::array_t), so benches/run.py can time them side by side. No implicit
// conversion anywhere: array parameters are py::arg().noconvert(), which makes
// array_t check the dtype (and requested layout) instead of converting.
#include <pybind11/pybind11.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

namespace py = pybind11;
using namespace py::literals;

namespace {

struct Point {
    double x, y;
    Point(double x, double y) : x(x), y(y) {}
    double norm() const { return std::hypot(x, y); }
};

// Visits every element of an n-d array (strides in bytes, any sign).
template <typename T, typename F>
void for_each_strided(T *data, size_t ndim, const py::ssize_t *shape,
                      const py::ssize_t *strides, F &&f) {
    using Byte = std::conditional_t<std::is_const_v<T>, const char, char>;
    for (size_t i = 0; i < ndim; ++i)
        if (shape[i] == 0) return;
    if (ndim == 0) { f(*data); return; }
    py::ssize_t idx[64] = {0};
    Byte *p = reinterpret_cast<Byte *>(data);
    const size_t last = ndim - 1;
    while (true) {
        Byte *q = p;
        for (py::ssize_t j = 0; j < shape[last]; ++j, q += strides[last])
            f(*reinterpret_cast<T *>(q));
        size_t d = last;
        while (true) {
            if (d == 0) return;
            --d;
            p += strides[d];
            if (++idx[d] < shape[d]) break;
            p -= strides[d] * shape[d];
            idx[d] = 0;
        }
    }
}

void require_ndim(const py::array &x, py::ssize_t n) {
    if (x.ndim() != n)
        throw py::type_error("expected a " + std::to_string(n) + "-D array");
}

}  // namespace

PYBIND11_MODULE(pybind11_peer, m) {
    m.doc() = "pybind11 peer of ndbind_test.bench (benches/run.py)";

    m.def("noop", []() {});
    m.def("add", [](int64_t a, int64_t b) { return a + b; });

    // Any float32 2-D array (read-only accepted).
    m.def("shape0",
          [](const py::array_t<float> &x) {
              require_ndim(x, 2);
              return x.shape(0);
          },
          py::arg().noconvert());

    m.def("ro_sum",
          [](const py::array_t<float, py::array::c_style> &x) {
              require_ndim(x, 2);
              const float *d = x.data();
              double s = 0.0;
              for (py::ssize_t i = 0, n = x.size(); i < n; ++i) s += d[i];
              return s;
          },
          py::arg().noconvert());

    m.def("scale_inplace",
          [](py::array_t<float, py::array::c_style> &x, float f) {
              require_ndim(x, 1);
              float *d = x.mutable_data();  // throws on a read-only array
              for (py::ssize_t i = 0, n = x.shape(0); i < n; ++i) d[i] *= f;
          },
          py::arg().noconvert(), py::arg());

    // A new float32 (n,) array over a 64-byte aligned C++ buffer owned by a
    // capsule (no copy); contents uninitialized (§5: unspecified).
    m.def("make_array", [](size_t n) {
        size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
        if (bytes == 0) bytes = 64;
        float *data = static_cast<float *>(std::aligned_alloc(64, bytes));
        if (!data) throw std::bad_alloc();
        py::capsule owner(data, [](void *p) { std::free(p); });
        return py::array_t<float>({(py::ssize_t) n}, {(py::ssize_t) sizeof(float)}, data, owner);
    });

    // float32 array in, the same object out.
    m.def("view_of", [](py::array_t<float> x) { return x; }, py::arg().noconvert());

    // §2: float64, any ndim, any strides.
    m.def("shape",
          [](const py::array_t<double> &x) {
              return std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim());
          },
          py::arg().noconvert());

    m.def("sum_f64",
          [](const py::array_t<double> &x) {
              double s = 0.0;
              for_each_strided(x.data(), (size_t) x.ndim(), x.shape(), x.strides(),
                               [&](const double &v) { s += v; });
              return s;
          },
          py::arg().noconvert());

    m.def("scale",
          [](py::array_t<double> &x, double f) {
              for_each_strided(x.mutable_data(), (size_t) x.ndim(), x.shape(), x.strides(),
                               [&](double &v) { v *= f; });
          },
          py::arg().noconvert(), py::arg());

    py::class_<Point>(m, "Point")
        .def(py::init<double, double>(), "x"_a, "y"_a)
        .def_readwrite("x", &Point::x)
        .def_readwrite("y", &Point::y)
        .def("norm", &Point::norm)
        .def("__repr__", [](const Point &p) {
            return py::str("Point(x={!r}, y={!r})").format(p.x, p.y);
        });
}
