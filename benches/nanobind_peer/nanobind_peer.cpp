// nanobind_peer: the functions of ndbind_test.bench (CONFORMANCE.md §5) plus
// shape/sum_f64/scale (§2) and Point (§4), in plain, idiomatic nanobind, so
// benches/run.py can time them side by side with ndbind and the other peers.
// No implicit conversion anywhere: array parameters are nb::arg().noconvert()
// (unnamed, so nanobind keeps its fastest "simple" dispatcher).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/vector.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

namespace nb = nanobind;
using namespace nb::literals;

namespace {

struct Point {
    double x, y;
    Point(double x, double y) : x(x), y(y) {}
    double norm() const { return std::hypot(x, y); }
};

// A float32 buffer of n elements, 64-byte aligned (so JAX need not copy it),
// owned by a capsule that frees it: handed to the framework without a copy.
// Contents are left uninitialized (CONFORMANCE.md §5: unspecified), so the
// cost stays flat in n; ndbind and the pyo3 peer zero through calloc instead.
template <typename Framework>
nb::ndarray<Framework, float, nb::ndim<1>> make(size_t n) {
    size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;  // aligned_alloc wants a multiple
    if (bytes == 0) bytes = 64;
    float *data = static_cast<float *>(std::aligned_alloc(64, bytes));
    if (!data) throw std::bad_alloc();
    nb::capsule owner(data, [](void *p) noexcept { std::free(p); });
    return nb::ndarray<Framework, float, nb::ndim<1>>(data, {n}, owner);
}

// Visits every element of an n-d strided array (strides in elements, any sign).
template <typename T, typename F>
void for_each_strided(T *data, size_t ndim, const int64_t *shape,
                      const int64_t *strides, F &&f) {
    for (size_t i = 0; i < ndim; ++i)
        if (shape[i] == 0) return;
    if (ndim == 0) { f(*data); return; }
    int64_t idx[32] = {0};
    T *p = data;
    const size_t last = ndim - 1;
    while (true) {
        T *q = p;
        for (int64_t j = 0; j < shape[last]; ++j, q += strides[last]) f(*q);
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

}  // namespace

NB_MODULE(nanobind_peer, m) {
    m.doc() = "nanobind peer of ndbind_test.bench (benches/run.py)";

    m.def("noop", []() {});
    m.def("add", [](int64_t a, int64_t b) { return a + b; });

    // Any float32 2-D array (read-only accepted), from any framework.
    m.def("shape0",
          [](nb::ndarray<float, nb::ndim<2>, nb::ro> x) { return x.shape(0); },
          nb::arg().noconvert());

    m.def("ro_sum",
          [](nb::ndarray<float, nb::ndim<2>, nb::ro, nb::c_contig, nb::device::cpu> x) {
              const float *d = x.data();
              double s = 0.0;
              for (size_t i = 0, n = x.size(); i < n; ++i) s += d[i];
              return s;
          },
          nb::arg().noconvert());

    m.def("scale_inplace",
          [](nb::ndarray<float, nb::ndim<1>, nb::c_contig, nb::device::cpu> x, float f) {
              float *d = x.data();
              for (size_t i = 0, n = x.shape(0); i < n; ++i) d[i] *= f;
          },
          nb::arg().noconvert(), nb::arg());

    m.def("make_array", [](size_t n) { return make<nb::numpy>(n); });
    m.def("make_torch", [](size_t n) { return make<nb::pytorch>(n); });
    m.def("make_jax", [](size_t n) { return make<nb::jax>(n); });

    // float32 array in, the same object out.
    m.def("view_of", [](nb::ndarray<float> x) { return x; }, nb::arg().noconvert());

    // §2: float64, any ndim, any strides.
    m.def("shape",
          [](nb::ndarray<double, nb::ro> x) {
              std::vector<size_t> out(x.ndim());
              for (size_t i = 0; i < x.ndim(); ++i) out[i] = x.shape(i);
              return out;
          },
          nb::arg().noconvert());

    m.def("sum_f64",
          [](nb::ndarray<double, nb::ro, nb::device::cpu> x) {
              double s = 0.0;
              for_each_strided(x.data(), x.ndim(), x.shape_ptr(), x.stride_ptr(),
                               [&](const double &v) { s += v; });
              return s;
          },
          nb::arg().noconvert());

    m.def("scale",
          [](nb::ndarray<double, nb::device::cpu> x, double f) {
              for_each_strided(x.data(), x.ndim(), x.shape_ptr(), x.stride_ptr(),
                               [&](double &v) { v *= f; });
          },
          nb::arg().noconvert(), nb::arg());

    nb::class_<Point>(m, "Point")
        .def(nb::init<double, double>(), "x"_a, "y"_a)
        .def_rw("x", &Point::x)
        .def_rw("y", &Point::y)
        .def("norm", &Point::norm)
        .def("__repr__", [](const Point &p) {
            return nb::str("Point(x={!r}, y={!r})").format(p.x, p.y);
        });
}
