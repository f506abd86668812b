#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| archbudget_fuzz::space(data));
