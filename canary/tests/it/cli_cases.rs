//! The CLI's help and its answers to bad input, pinned as `trycmd` cases in `tests/cmd/`.
//! After an intended change, refresh them with
//! `TRYCMD=overwrite cargo test -p lamina-canary --all-features --test it cli_cases`.

#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .register_bin("canary", trycmd::cargo::cargo_bin!("canary"))
        .case("tests/cmd/*.toml");
}
