#![no_main]

// The core half (protocol types, the filter's reading of answers) and the verifier's own parsers.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    warden_fuzz::checks::bodies::run(data);
    warden_fuzz::verifier::run(data);
});
