//! The CLI's help and its answers to bad input, pinned as `trycmd` cases in `tests/cmd/`.
//! After an intended change, refresh them with `TRYCMD=overwrite cargo test -p lamina-local --test it cli_cases`.

#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .register_bin("lamina-local", trycmd::cargo::cargo_bin!("lamina-local"))
        .case("tests/cmd/*.toml");
}
