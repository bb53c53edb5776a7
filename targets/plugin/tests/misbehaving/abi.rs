//! A library that exports picday's entry point with a table picday must refuse: ABI version 99
//! (built with `--cfg future`) or version 1 with a table too small (without it). Built by the
//! failure tests with rustc alone.

#[repr(C)]
pub struct Table {
    abi_version: u32,
    struct_size: usize,
}

#[cfg(future)]
static TABLE: Table = Table {
    abi_version: 99,
    struct_size: 4096,
};

#[cfg(not(future))]
static TABLE: Table = Table {
    abi_version: 1,
    struct_size: std::mem::size_of::<Table>(),
};

#[unsafe(no_mangle)]
pub extern "C" fn picday_plugin_v1() -> *const Table {
    &TABLE
}
