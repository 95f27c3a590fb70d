//! Compile-fail tests: the brand and `Send` rules reject every misuse of terms and heap
//! handles at compile time. Each case in `ui/` must fail for the reason its `.stderr` shows
//! (a lifetime or borrow error naming the brand, or a missing `Send`); regenerate the
//! expected output with `TRYBUILD=overwrite` and review it.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
