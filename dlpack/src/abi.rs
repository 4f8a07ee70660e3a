//! `#[repr(C)]` mirrors of the types in `dlpack.h` (DLPack 1.3).
//!
//! Everything here is plain data: no Python, no allocation. C enums whose
//! values come from foreign producers ([`DeviceType`], [`DataTypeCode`]) are
//! modelled as transparent newtypes with associated constants, because a Rust
//! `enum` holding an unknown discriminant would be undefined behaviour.
//!
//! Layouts are checked at compile time for 64-bit targets.

use core::ffi::{c_char, c_int, c_void, CStr};
use core::fmt;

/// Major DLPack ABI version described by this module (`DLPACK_MAJOR_VERSION`).
///
/// A versioned tensor whose `version.major` differs must not be read; only
/// its deleter may be called.
pub const DLPACK_MAJOR_VERSION: u32 = 1;

/// Minor DLPack version described by this module (`DLPACK_MINOR_VERSION`).
pub const DLPACK_MINOR_VERSION: u32 = 3;

/// `DLPACK_FLAG_BITMASK_READ_ONLY`: the consumer must not write to the data.
pub const FLAG_READ_ONLY: u64 = 1 << 0;

/// `DLPACK_FLAG_BITMASK_IS_COPIED`: the producer made a copy that the consumer
/// solely owns until it calls the deleter.
pub const FLAG_IS_COPIED: u64 = 1 << 1;

/// `DLPACK_FLAG_BITMASK_IS_SUBBYTE_TYPE_PADDED`: a sub-byte dtype (fp4/fp6) is
/// stored padded to one element per byte rather than packed.
pub const FLAG_IS_SUBBYTE_TYPE_PADDED: u64 = 1 << 2;

/// `DLPackVersion`: ABI version carried by [`DLManagedTensorVersioned`] and
/// [`DLPackExchangeAPIHeader`].
///
/// ```
/// use ndbind_dlpack::DLPackVersion;
/// assert_eq!(DLPackVersion::CURRENT.major, 1);
/// assert!(DLPackVersion { major: 1, minor: 0 }.is_compatible());
/// assert!(!DLPackVersion { major: 2, minor: 0 }.is_compatible());
/// ```
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DLPackVersion {
    /// Major version; a mismatch means the struct layout differs.
    pub major: u32,
    /// Minor version; newer minors only add enumeration values.
    pub minor: u32,
}

impl DLPackVersion {
    /// The version this crate implements (`1.3`).
    pub const CURRENT: DLPackVersion =
        DLPackVersion { major: DLPACK_MAJOR_VERSION, minor: DLPACK_MINOR_VERSION };

    /// Whether a structure stamped with this version may be read by this
    /// crate (same major version).
    #[inline]
    pub const fn is_compatible(self) -> bool {
        self.major == DLPACK_MAJOR_VERSION
    }
}

/// `DLDeviceType`: where the tensor's memory lives.
///
/// A transparent `i32` so that any value a foreign producer writes is a valid
/// Rust value; compare against the associated constants.
///
/// ```
/// use ndbind_dlpack::DeviceType;
/// assert_eq!(DeviceType::CUDA.0, 2);
/// assert_eq!(format!("{:?}", DeviceType(99)), "DeviceType(99)");
/// ```
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceType(pub i32);

/// Alias using the C header's name.
pub type DLDeviceType = DeviceType;

impl DeviceType {
    /// `kDLCPU`: host memory.
    pub const CPU: Self = Self(1);
    /// `kDLCUDA`: CUDA device memory.
    pub const CUDA: Self = Self(2);
    /// `kDLCUDAHost`: pinned host memory from `cudaMallocHost`.
    pub const CUDA_HOST: Self = Self(3);
    /// `kDLOpenCL`: OpenCL buffer (`data` is a `cl_mem` handle).
    pub const OPENCL: Self = Self(4);
    /// `kDLVulkan`: Vulkan buffer.
    pub const VULKAN: Self = Self(7);
    /// `kDLMetal`: Metal buffer on Apple GPUs.
    pub const METAL: Self = Self(8);
    /// `kDLVPI`: Verilog simulator buffer.
    pub const VPI: Self = Self(9);
    /// `kDLROCM`: AMD ROCm device memory.
    pub const ROCM: Self = Self(10);
    /// `kDLROCMHost`: pinned host memory from `hipMallocHost`.
    pub const ROCM_HOST: Self = Self(11);
    /// `kDLExtDev`: reserved extension device.
    pub const EXT_DEV: Self = Self(12);
    /// `kDLCUDAManaged`: CUDA unified memory from `cudaMallocManaged`.
    pub const CUDA_MANAGED: Self = Self(13);
    /// `kDLOneAPI`: oneAPI unified shared memory.
    pub const ONE_API: Self = Self(14);
    /// `kDLWebGPU`: WebGPU buffer.
    pub const WEBGPU: Self = Self(15);
    /// `kDLHexagon`: Qualcomm Hexagon DSP.
    pub const HEXAGON: Self = Self(16);
    /// `kDLMAIA`: Microsoft MAIA device.
    pub const MAIA: Self = Self(17);
    /// `kDLTrn`: AWS Trainium (added after DLPack 1.1).
    pub const TRN: Self = Self(18);

    /// The header's name for known values (`"kDLCPU"`, ...), `None` otherwise.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "kDLCPU",
            2 => "kDLCUDA",
            3 => "kDLCUDAHost",
            4 => "kDLOpenCL",
            7 => "kDLVulkan",
            8 => "kDLMetal",
            9 => "kDLVPI",
            10 => "kDLROCM",
            11 => "kDLROCMHost",
            12 => "kDLExtDev",
            13 => "kDLCUDAManaged",
            14 => "kDLOneAPI",
            15 => "kDLWebGPU",
            16 => "kDLHexagon",
            17 => "kDLMAIA",
            18 => "kDLTrn",
            _ => return None,
        })
    }

    /// Whether the CPU can dereference `data` directly (CPU, pinned host
    /// and CUDA managed memory).
    #[inline]
    pub const fn is_host_accessible(self) -> bool {
        matches!(self.0, 1 | 3 | 11 | 13)
    }
}

impl fmt::Debug for DeviceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "DeviceType({})", self.0),
        }
    }
}

/// `DLDevice`: device type plus device ordinal.
///
/// ```
/// use ndbind_dlpack::{DLDevice, DeviceType};
/// let d = DLDevice::new(DeviceType::CUDA, 1);
/// assert_eq!((d.device_type, d.device_id), (DeviceType::CUDA, 1));
/// assert_eq!(DLDevice::CPU.device_type, DeviceType::CPU);
/// ```
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DLDevice {
    /// The kind of device.
    pub device_type: DeviceType,
    /// Device ordinal; 0 for CPU, pinned and managed memory.
    pub device_id: i32,
}

impl DLDevice {
    /// Host memory, device 0.
    pub const CPU: DLDevice = DLDevice::new(DeviceType::CPU, 0);

    /// Builds a device from its parts.
    #[inline]
    pub const fn new(device_type: DeviceType, device_id: i32) -> Self {
        Self { device_type, device_id }
    }

    /// CUDA device memory on GPU `id` (`kDLCUDA`).
    ///
    /// ```
    /// use ndbind_dlpack::{DLDevice, DeviceType};
    /// let d = DLDevice::cuda(1);
    /// assert_eq!((d.device_type, d.device_id), (DeviceType::CUDA, 1));
    /// assert!(!d.is_cpu() && DLDevice::CPU.is_cpu());
    /// assert_eq!(d.to_string(), "kDLCUDA:1");
    /// ```
    #[inline]
    pub const fn cuda(id: i32) -> Self {
        Self::new(DeviceType::CUDA, id)
    }

    /// ROCm device memory on GPU `id` (`kDLROCM`).
    #[inline]
    pub const fn rocm(id: i32) -> Self {
        Self::new(DeviceType::ROCM, id)
    }

    /// Whether this is plain host memory (`kDLCPU`, any id).
    #[inline]
    pub const fn is_cpu(self) -> bool {
        self.device_type.0 == DeviceType::CPU.0
    }
}

/// `kDLCUDA:0`: the header's name of the device type (or its number),
/// then the ordinal.
impl fmt::Display for DLDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}:{}", self.device_type, self.device_id)
    }
}

/// `DLDataTypeCode`: the base kind of a [`DLDataType`].
///
/// Transparent `u8` (the width [`DLDataType::code`] is stored in), with the
/// header's enumerators as associated constants.
///
/// ```
/// use ndbind_dlpack::{DataTypeCode, DLDataType};
/// assert_eq!(DLDataType::FLOAT32.type_code(), DataTypeCode::FLOAT);
/// ```
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DataTypeCode(pub u8);

/// Alias using the C header's name.
pub type DLDataTypeCode = DataTypeCode;

impl DataTypeCode {
    /// `kDLInt`: signed integer.
    pub const INT: Self = Self(0);
    /// `kDLUInt`: unsigned integer.
    pub const UINT: Self = Self(1);
    /// `kDLFloat`: IEEE floating point.
    pub const FLOAT: Self = Self(2);
    /// `kDLOpaqueHandle`: opaque handle, for testing.
    pub const OPAQUE_HANDLE: Self = Self(3);
    /// `kDLBfloat`: bfloat16.
    pub const BFLOAT: Self = Self(4);
    /// `kDLComplex`: complex number (pair of floats, `bits` is the total).
    pub const COMPLEX: Self = Self(5);
    /// `kDLBool`: boolean (8 bits by convention).
    pub const BOOL: Self = Self(6);
    /// `kDLFloat8_e3m4`.
    pub const FLOAT8_E3M4: Self = Self(7);
    /// `kDLFloat8_e4m3`.
    pub const FLOAT8_E4M3: Self = Self(8);
    /// `kDLFloat8_e4m3b11fnuz`.
    pub const FLOAT8_E4M3B11FNUZ: Self = Self(9);
    /// `kDLFloat8_e4m3fn`.
    pub const FLOAT8_E4M3FN: Self = Self(10);
    /// `kDLFloat8_e4m3fnuz`.
    pub const FLOAT8_E4M3FNUZ: Self = Self(11);
    /// `kDLFloat8_e5m2`.
    pub const FLOAT8_E5M2: Self = Self(12);
    /// `kDLFloat8_e5m2fnuz`.
    pub const FLOAT8_E5M2FNUZ: Self = Self(13);
    /// `kDLFloat8_e8m0fnu`.
    pub const FLOAT8_E8M0FNU: Self = Self(14);
    /// `kDLFloat6_e2m3fn` (6 bits, packed unless padded).
    pub const FLOAT6_E2M3FN: Self = Self(15);
    /// `kDLFloat6_e3m2fn` (6 bits, packed unless padded).
    pub const FLOAT6_E3M2FN: Self = Self(16);
    /// `kDLFloat4_e2m1fn` (4 bits, packed unless padded).
    pub const FLOAT4_E2M1FN: Self = Self(17);
}

/// `DLDataType`: element type as (code, bits, lanes): the one dtype record
/// of ndbind (`ndbind::array::DType` is this type).
///
/// Type codes are [`DataTypeCode`]s, stored as `u8` as in the header (the
/// `CODE_*` constants are the same values as `u8`). `bool` is code
/// [`DataTypeCode::BOOL`] with 8 bits, as NumPy and PyTorch export it.
/// Named constants carry NumPy's names ([`FLOAT32`](Self::FLOAT32), ...).
///
/// ```
/// use ndbind_dlpack::{DLDataType, DataTypeCode};
/// let t = DLDataType::new(DataTypeCode::COMPLEX, 64, 1);
/// assert_eq!(t, DLDataType::COMPLEX64);
/// assert_eq!(t.checked_itemsize(), Some(8));
/// assert_eq!((t.name(), t.itemsize()), ("complex64", 8));
/// let dt = DLDataType { code: DLDataType::CODE_FLOAT, bits: 64, lanes: 1 };
/// assert_eq!(dt, DLDataType::FLOAT64);
/// assert!(dt.is_float());
/// ```
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DLDataType {
    /// A [`DataTypeCode`] value, stored as `u8` as in the header.
    pub code: u8,
    /// Bits per lane (8, 16, 32, ...; for complex types both parts).
    pub bits: u8,
    /// Vector lanes; 1 for scalars.
    pub lanes: u16,
}

impl DLDataType {
    /// [`DataTypeCode::INT`] as stored in [`code`](Self::code).
    pub const CODE_INT: u8 = DataTypeCode::INT.0;
    /// [`DataTypeCode::UINT`] as stored in [`code`](Self::code).
    pub const CODE_UINT: u8 = DataTypeCode::UINT.0;
    /// [`DataTypeCode::FLOAT`] as stored in [`code`](Self::code).
    pub const CODE_FLOAT: u8 = DataTypeCode::FLOAT.0;
    /// [`DataTypeCode::BFLOAT`] as stored in [`code`](Self::code).
    pub const CODE_BFLOAT: u8 = DataTypeCode::BFLOAT.0;
    /// [`DataTypeCode::COMPLEX`] as stored in [`code`](Self::code).
    pub const CODE_COMPLEX: u8 = DataTypeCode::COMPLEX.0;
    /// [`DataTypeCode::BOOL`] as stored in [`code`](Self::code).
    pub const CODE_BOOL: u8 = DataTypeCode::BOOL.0;

    /// `bool` (8-bit storage).
    pub const BOOL: Self = Self::scalar(DataTypeCode::BOOL, 8);
    /// `int8`.
    pub const INT8: Self = Self::scalar(DataTypeCode::INT, 8);
    /// `int16`.
    pub const INT16: Self = Self::scalar(DataTypeCode::INT, 16);
    /// `int32`.
    pub const INT32: Self = Self::scalar(DataTypeCode::INT, 32);
    /// `int64`.
    pub const INT64: Self = Self::scalar(DataTypeCode::INT, 64);
    /// `uint8`.
    pub const UINT8: Self = Self::scalar(DataTypeCode::UINT, 8);
    /// `uint16`.
    pub const UINT16: Self = Self::scalar(DataTypeCode::UINT, 16);
    /// `uint32`.
    pub const UINT32: Self = Self::scalar(DataTypeCode::UINT, 32);
    /// `uint64`.
    pub const UINT64: Self = Self::scalar(DataTypeCode::UINT, 64);
    /// `float16` (IEEE binary16).
    pub const FLOAT16: Self = Self::scalar(DataTypeCode::FLOAT, 16);
    /// `bfloat16`.
    pub const BFLOAT16: Self = Self::scalar(DataTypeCode::BFLOAT, 16);
    /// `float32`.
    pub const FLOAT32: Self = Self::scalar(DataTypeCode::FLOAT, 32);
    /// `float64`.
    pub const FLOAT64: Self = Self::scalar(DataTypeCode::FLOAT, 64);
    /// `complex64` (two `float32`).
    pub const COMPLEX64: Self = Self::scalar(DataTypeCode::COMPLEX, 64);
    /// `complex128` (two `float64`).
    pub const COMPLEX128: Self = Self::scalar(DataTypeCode::COMPLEX, 128);

    /// Builds a data type from its parts.
    #[inline]
    pub const fn new(code: DataTypeCode, bits: u8, lanes: u16) -> Self {
        Self { code: code.0, bits, lanes }
    }

    /// A scalar (one-lane) data type.
    ///
    /// ```
    /// # use ndbind_dlpack::{DLDataType, DataTypeCode};
    /// assert_eq!(DLDataType::scalar(DataTypeCode::UINT, 16), DLDataType::UINT16);
    /// ```
    #[inline]
    pub const fn scalar(code: DataTypeCode, bits: u8) -> Self {
        Self::new(code, bits, 1)
    }

    /// The code as a [`DataTypeCode`].
    #[inline]
    pub const fn type_code(self) -> DataTypeCode {
        DataTypeCode(self.code)
    }

    /// Whether DLPack defines this type code with this bit width, as a
    /// byte-addressable scalar: integers of 8/16/32/64 bits, IEEE floats of
    /// 16/32/64, bfloat16, complex of 32/64/128 (both parts), bool of 8,
    /// and the 8-bit float codes of DLPack 1.1 (`FLOAT8_*`). Opaque
    /// handles, other widths, unknown codes and the sub-byte types
    /// (`FLOAT6_*`, `FLOAT4_E2M1FN`) are not. Lanes are not looked at.
    #[inline]
    pub const fn is_defined_scalar(self) -> bool {
        matches!(
            (self.code, self.bits),
            (0 | 1, 8 | 16 | 32 | 64)
                | (2, 16 | 32 | 64)
                | (4, 16)
                | (5, 32 | 64 | 128)
                | (6, 8)
                | (7..=14, 8)
        )
    }

    /// Bytes per element for byte-addressable scalar types (`lanes == 1`,
    /// `bits` a positive multiple of 8); `None` otherwise.
    #[inline]
    pub const fn checked_itemsize(self) -> Option<usize> {
        if self.lanes == 1 && self.bits != 0 && self.bits % 8 == 0 {
            Some(self.bits as usize / 8)
        } else {
            None
        }
    }

    /// Bytes per element: `bits * lanes / 8` (rounded down; sub-byte types
    /// give 0). See [`checked_itemsize`](Self::checked_itemsize) for
    /// foreign dtypes.
    ///
    /// ```
    /// # use ndbind_dlpack::DLDataType;
    /// assert_eq!(DLDataType::COMPLEX128.itemsize(), 16);
    /// ```
    #[inline]
    pub const fn itemsize(self) -> usize {
        self.bits as usize * self.lanes as usize / 8
    }

    /// The NumPy-style name: `"bool"`, `"int8"` … `"uint64"`, `"float16"`,
    /// `"bfloat16"`, `"float32"`, `"float64"`, `"complex64"`,
    /// `"complex128"`, and for the types DLPack defines without a named
    /// constant here `"complex32"` and the `"float8_*"` names; `"unknown"`
    /// for anything else (including vectors).
    ///
    /// ```
    /// # use ndbind_dlpack::{DLDataType, DataTypeCode};
    /// assert_eq!(DLDataType::UINT32.name(), "uint32");
    /// assert_eq!(DLDataType::scalar(DataTypeCode::FLOAT, 8).name(), "unknown");
    /// ```
    // Out of line: one copy (as a small `const fn` it was instantiated in
    // each codegen unit using it).
    #[inline(never)]
    pub const fn name(self) -> &'static str {
        if self.lanes != 1 {
            return "unknown";
        }
        match (self.code, self.bits) {
            (Self::CODE_BOOL, 8) => "bool",
            (Self::CODE_INT, 8) => "int8",
            (Self::CODE_INT, 16) => "int16",
            (Self::CODE_INT, 32) => "int32",
            (Self::CODE_INT, 64) => "int64",
            (Self::CODE_UINT, 8) => "uint8",
            (Self::CODE_UINT, 16) => "uint16",
            (Self::CODE_UINT, 32) => "uint32",
            (Self::CODE_UINT, 64) => "uint64",
            (Self::CODE_FLOAT, 16) => "float16",
            (Self::CODE_BFLOAT, 16) => "bfloat16",
            (Self::CODE_FLOAT, 32) => "float32",
            (Self::CODE_FLOAT, 64) => "float64",
            (Self::CODE_COMPLEX, 64) => "complex64",
            (Self::CODE_COMPLEX, 128) => "complex128",
            // Defined by DLPack, imported as `AnyDType` only (no Rust
            // scalar type): torch's `complex32` and DLPack 1.1's 8-bit floats.
            (Self::CODE_COMPLEX, 32) => "complex32",
            (7, 8) => "float8_e3m4",
            (8, 8) => "float8_e4m3",
            (9, 8) => "float8_e4m3b11fnuz",
            (10, 8) => "float8_e4m3fn",
            (11, 8) => "float8_e4m3fnuz",
            (12, 8) => "float8_e5m2",
            (13, 8) => "float8_e5m2fnuz",
            (14, 8) => "float8_e8m0fnu",
            _ => "unknown",
        }
    }

    /// The NumPy dtype name; identical to [`name`](Self::name).
    #[inline]
    pub const fn numpy_name(self) -> &'static str {
        self.name()
    }

    /// Whether [`name`](Self::name) is not `"unknown"`.
    ///
    /// ```
    /// # use ndbind_dlpack::DLDataType;
    /// assert!(DLDataType::INT8.is_known());
    /// assert!(!DLDataType { code: 2, bits: 32, lanes: 4 }.is_known());
    /// ```
    #[inline]
    pub const fn is_known(self) -> bool {
        !matches!(self.name().as_bytes(), b"unknown")
    }

    /// `bool`.
    #[inline]
    pub const fn is_bool(self) -> bool {
        self.code == Self::CODE_BOOL
    }

    /// Signed integer (code `kDLInt`).
    #[inline]
    pub const fn is_signed_int(self) -> bool {
        self.code == Self::CODE_INT
    }

    /// Unsigned integer (code `kDLUInt`).
    #[inline]
    pub const fn is_unsigned_int(self) -> bool {
        self.code == Self::CODE_UINT
    }

    /// Signed or unsigned integer (not `bool`).
    #[inline]
    pub const fn is_integer(self) -> bool {
        self.is_signed_int() || self.is_unsigned_int()
    }

    /// Real floating point: IEEE, `bfloat16` and the 8-bit float codes.
    #[inline]
    pub const fn is_float(self) -> bool {
        matches!(self.code, Self::CODE_FLOAT | Self::CODE_BFLOAT | 7..=14)
    }

    /// Complex floating point.
    #[inline]
    pub const fn is_complex(self) -> bool {
        self.code == Self::CODE_COMPLEX
    }

    /// The PEP 3118 format string this dtype is exported with through the
    /// buffer protocol (native byte order, no prefix): `?`, `b`, `B`, `h`,
    /// `H`, `i`, `I`, `q`, `Q`, `e`, `f`, `d`, `Zf`, `Zd`. `None` for
    /// `bfloat16` (which has no PEP 3118 code) and unknown dtypes.
    ///
    /// ```
    /// # use ndbind_dlpack::DLDataType;
    /// assert_eq!(DLDataType::INT64.buffer_format(), Some(c"q"));
    /// assert_eq!(DLDataType::BFLOAT16.buffer_format(), None);
    /// ```
    #[inline]
    pub const fn buffer_format(self) -> Option<&'static CStr> {
        if self.lanes != 1 {
            return None;
        }
        Some(match (self.code, self.bits) {
            (Self::CODE_BOOL, 8) => c"?",
            (Self::CODE_INT, 8) => c"b",
            (Self::CODE_INT, 16) => c"h",
            (Self::CODE_INT, 32) => c"i",
            (Self::CODE_INT, 64) => c"q",
            (Self::CODE_UINT, 8) => c"B",
            (Self::CODE_UINT, 16) => c"H",
            (Self::CODE_UINT, 32) => c"I",
            (Self::CODE_UINT, 64) => c"Q",
            (Self::CODE_FLOAT, 16) => c"e",
            (Self::CODE_FLOAT, 32) => c"f",
            (Self::CODE_FLOAT, 64) => c"d",
            (Self::CODE_COMPLEX, 64) => c"Zf",
            (Self::CODE_COMPLEX, 128) => c"Zd",
            _ => return None,
        })
    }
}

/// `DLTensor`: a non-owning view of strided memory.
///
/// `shape` and `strides` point to `ndim` elements each (`strides` may be NULL
/// for C-contiguous data in producers older than DLPack 1.2). `strides` are in
/// elements, not bytes. The first element lives at `data + byte_offset`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DLTensor {
    /// Base pointer (or opaque handle for OpenCL/Vulkan/Metal/WebGPU).
    pub data: *mut c_void,
    /// Device the memory lives on.
    pub device: DLDevice,
    /// Number of dimensions.
    pub ndim: i32,
    /// Element type.
    pub dtype: DLDataType,
    /// `ndim` extents; may be NULL when `ndim == 0`.
    pub shape: *mut i64,
    /// `ndim` strides in elements, or NULL (C-contiguous, pre-1.2 producers).
    pub strides: *mut i64,
    /// Offset in bytes from `data` to the first element.
    pub byte_offset: u64,
}

/// Deleter of a [`DLManagedTensor`]; frees the context and the struct itself.
pub type DLManagedTensorDeleter = unsafe extern "C" fn(this: *mut DLManagedTensor);

/// Deleter of a [`DLManagedTensorVersioned`]; frees the context and the struct
/// itself.
pub type DLManagedTensorVersionedDeleter =
    unsafe extern "C" fn(this: *mut DLManagedTensorVersioned);

/// `DLManagedTensor`: the legacy (unversioned) owning wrapper, exchanged in
/// capsules named `"dltensor"`.
#[repr(C)]
#[derive(Debug)]
pub struct DLManagedTensor {
    /// The described tensor.
    pub dl_tensor: DLTensor,
    /// Producer-private context, may be NULL.
    pub manager_ctx: *mut c_void,
    /// Releases the producer's resources and this struct; may be NULL.
    pub deleter: Option<DLManagedTensorDeleter>,
}

/// `DLManagedTensorVersioned`: the current owning wrapper, exchanged in
/// capsules named `"dltensor_versioned"`.
///
/// Only `version`, `manager_ctx` and `deleter` may be read before checking
/// [`DLPackVersion::is_compatible`]; the rest of the layout may differ in
/// another major version.
#[repr(C)]
#[derive(Debug)]
pub struct DLManagedTensorVersioned {
    /// ABI version of this struct.
    pub version: DLPackVersion,
    /// Producer-private context, may be NULL.
    pub manager_ctx: *mut c_void,
    /// Releases the producer's resources and this struct; may be NULL.
    pub deleter: Option<DLManagedTensorVersionedDeleter>,
    /// Bit set of `FLAG_*` constants.
    pub flags: u64,
    /// The described tensor.
    pub dl_tensor: DLTensor,
}

// ---------------------------------------------------------------------------
// C exchange API (`__dlpack_c_exchange_api__`), DLPack >= 1.3
// ---------------------------------------------------------------------------

/// Error callback handed to a [`DLPackManagedTensorAllocator`]:
/// `SetError(error_ctx, kind, message)`.
pub type DLPackSetError =
    unsafe extern "C" fn(error_ctx: *mut c_void, kind: *const c_char, message: *const c_char);

/// `DLPackManagedTensorAllocator`: asks the producer to allocate a new tensor
/// shaped like `prototype` (only dtype, ndim, shape and device are read).
/// Returns 0 and writes `*out` on success; otherwise calls `set_error`.
pub type DLPackManagedTensorAllocator = unsafe extern "C" fn(
    prototype: *mut DLTensor,
    out: *mut *mut DLManagedTensorVersioned,
    error_ctx: *mut c_void,
    set_error: Option<DLPackSetError>,
) -> c_int;

/// `DLPackManagedTensorFromPyObjectNoSync`: exports `py_object` (a
/// `PyObject*` of the type that carried the table) as an owning versioned
/// tensor, without stream synchronisation. Non-zero on failure with a Python
/// exception set.
pub type DLPackManagedTensorFromPyObjectNoSync =
    unsafe extern "C" fn(py_object: *mut c_void, out: *mut *mut DLManagedTensorVersioned) -> c_int;

/// `DLPackDLTensorFromPyObjectNoSync`: fills a caller-provided `DLTensor`
/// viewing `py_object`, valid only until control returns to the producer.
/// 0 on success, -1 with a Python exception set.
pub type DLPackDLTensorFromPyObjectNoSync =
    unsafe extern "C" fn(py_object: *mut c_void, out: *mut DLTensor) -> c_int;

/// `DLPackCurrentWorkStream`: the producer's current stream for a device
/// (e.g. `torch.cuda.current_stream`); may write NULL for CPU.
/// 0 on success, -1 with a Python exception set.
pub type DLPackCurrentWorkStream = unsafe extern "C" fn(
    device_type: DeviceType,
    device_id: i32,
    out_current_stream: *mut *mut c_void,
) -> c_int;

/// `DLPackManagedTensorToPyObjectNoSync`: wraps an owning tensor (ownership is
/// stolen) into the producer's Python tensor type, written to
/// `*out_py_object` as a `PyObject*`. 0 on success, -1 with an exception set.
pub type DLPackManagedTensorToPyObjectNoSync = unsafe extern "C" fn(
    tensor: *mut DLManagedTensorVersioned,
    out_py_object: *mut *mut c_void,
) -> c_int;

/// `DLPackExchangeAPIHeader`: the version-stable prefix of every exchange
/// table.
#[repr(C)]
#[derive(Debug)]
pub struct DLPackExchangeAPIHeader {
    /// Version of the table; check the major before reading further fields.
    pub version: DLPackVersion,
    /// Optional older table (NULL if none), to walk when the major version is
    /// newer than the consumer understands.
    pub prev_api: *mut DLPackExchangeAPIHeader,
}

/// `DLPackExchangeAPI`: the producer's function table, published on the
/// array *type* as `__dlpack_c_exchange_api__` (a capsule named
/// `"dlpack_exchange_api"`, see [`crate::capsule::exchange_api_from_capsule`]).
///
/// Field order follows `dlpack.h` 1.3. `dltensor_from_py_object_no_sync` may
/// be NULL; the header says the other pointers are non-NULL, but they are
/// still `Option` here because the producer is foreign.
#[repr(C)]
#[derive(Debug)]
pub struct DLPackExchangeAPI {
    /// Version-stable header.
    pub header: DLPackExchangeAPIHeader,
    /// Allocates a new tensor in the producer's framework.
    pub managed_tensor_allocator: Option<DLPackManagedTensorAllocator>,
    /// Exports a Python tensor as an owning versioned tensor.
    pub managed_tensor_from_py_object_no_sync: Option<DLPackManagedTensorFromPyObjectNoSync>,
    /// Imports an owning versioned tensor as a Python tensor.
    pub managed_tensor_to_py_object_no_sync: Option<DLPackManagedTensorToPyObjectNoSync>,
    /// Fills a borrowed `DLTensor` from a Python tensor (may be NULL).
    pub dltensor_from_py_object_no_sync: Option<DLPackDLTensorFromPyObjectNoSync>,
    /// Queries the producer's current work stream.
    pub current_work_stream: Option<DLPackCurrentWorkStream>,
}

// SAFETY: the table is immutable, process-lifetime data of function pointers
// (the header requires it to stay alive for the whole process); sharing a
// reference to it between threads is sound.
unsafe impl Sync for DLPackExchangeAPI {}
// SAFETY: same argument for the header (the `prev_api` chain is immutable).
unsafe impl Sync for DLPackExchangeAPIHeader {}

// ---------------------------------------------------------------------------
// Layout checks (64-bit ABI: LP64 / LLP64)
// ---------------------------------------------------------------------------

#[cfg(target_pointer_width = "64")]
mod layout_checks {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    const _: () = assert!(size_of::<DLPackVersion>() == 8);
    const _: () = assert!(size_of::<DeviceType>() == 4);
    const _: () = assert!(size_of::<DLDevice>() == 8 && align_of::<DLDevice>() == 4);
    const _: () = assert!(size_of::<DataTypeCode>() == 1);
    const _: () = assert!(size_of::<DLDataType>() == 4 && align_of::<DLDataType>() == 2);

    const _: () = assert!(size_of::<DLTensor>() == 48 && align_of::<DLTensor>() == 8);
    const _: () = assert!(offset_of!(DLTensor, data) == 0);
    const _: () = assert!(offset_of!(DLTensor, device) == 8);
    const _: () = assert!(offset_of!(DLTensor, ndim) == 16);
    const _: () = assert!(offset_of!(DLTensor, dtype) == 20);
    const _: () = assert!(offset_of!(DLTensor, shape) == 24);
    const _: () = assert!(offset_of!(DLTensor, strides) == 32);
    const _: () = assert!(offset_of!(DLTensor, byte_offset) == 40);

    const _: () = assert!(size_of::<DLManagedTensor>() == 64);
    const _: () = assert!(offset_of!(DLManagedTensor, manager_ctx) == 48);
    const _: () = assert!(offset_of!(DLManagedTensor, deleter) == 56);

    const _: () = assert!(size_of::<DLManagedTensorVersioned>() == 80);
    const _: () = assert!(offset_of!(DLManagedTensorVersioned, manager_ctx) == 8);
    const _: () = assert!(offset_of!(DLManagedTensorVersioned, deleter) == 16);
    const _: () = assert!(offset_of!(DLManagedTensorVersioned, flags) == 24);
    const _: () = assert!(offset_of!(DLManagedTensorVersioned, dl_tensor) == 32);

    // `Option<extern fn>` is guaranteed pointer-sized with NULL as `None`.
    const _: () = assert!(size_of::<Option<DLManagedTensorDeleter>>() == 8);

    const _: () = assert!(size_of::<DLPackExchangeAPIHeader>() == 16);
    const _: () = assert!(size_of::<DLPackExchangeAPI>() == 56);
    const _: () = assert!(offset_of!(DLPackExchangeAPI, managed_tensor_allocator) == 16);
    const _: () =
        assert!(offset_of!(DLPackExchangeAPI, managed_tensor_from_py_object_no_sync) == 24);
    const _: () = assert!(offset_of!(DLPackExchangeAPI, managed_tensor_to_py_object_no_sync) == 32);
    const _: () = assert!(offset_of!(DLPackExchangeAPI, dltensor_from_py_object_no_sync) == 40);
    const _: () = assert!(offset_of!(DLPackExchangeAPI, current_work_stream) == 48);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_values_match_header() {
        assert_eq!(DeviceType::CPU.0, 1);
        assert_eq!(DeviceType::VULKAN.0, 7);
        assert_eq!(DeviceType::MAIA.0, 17);
        assert_eq!(DataTypeCode::BOOL.0, 6);
        assert_eq!(DataTypeCode::FLOAT4_E2M1FN.0, 17);
        assert_eq!(FLAG_IS_SUBBYTE_TYPE_PADDED, 4);
    }

    #[test]
    fn debug_and_names() {
        assert_eq!(format!("{:?}", DeviceType::CUDA), "kDLCUDA");
        assert_eq!(DeviceType(5).name(), None);
        assert!(DeviceType::CUDA_HOST.is_host_accessible());
        assert!(!DeviceType::CUDA.is_host_accessible());
    }

    #[test]
    fn itemsize() {
        assert_eq!(DLDataType::BOOL.checked_itemsize(), Some(1));
        assert_eq!(DLDataType::COMPLEX128.checked_itemsize(), Some(16));
        assert_eq!(DLDataType::new(DataTypeCode::FLOAT4_E2M1FN, 4, 1).checked_itemsize(), None);
        assert_eq!(DLDataType::new(DataTypeCode::FLOAT, 32, 4).checked_itemsize(), None);
    }
}
