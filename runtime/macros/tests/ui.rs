//! Compile tests of the macros: what must expand and build, and what each misuse says.
//! Regenerate the expected messages with `TRYBUILD=overwrite cargo test -p evl-macros --test ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/main_ok.rs");
    t.pass("tests/ui/main_all_keys.rs");
    t.pass("tests/ui/task_ok.rs");
    t.compile_fail("tests/ui/main_not_async.rs");
    t.compile_fail("tests/ui/main_args.rs");
    t.compile_fail("tests/ui/main_generic.rs");
    t.compile_fail("tests/ui/main_priority.rs");
    t.compile_fail("tests/ui/main_unknown_key.rs");
    t.compile_fail("tests/ui/main_backend.rs");
    t.compile_fail("tests/ui/test_errors.rs");
    t.compile_fail("tests/ui/task_generic.rs");
    t.compile_fail("tests/ui/task_pool_size.rs");
    t.compile_fail("tests/ui/task_pool_size_const.rs");
    t.compile_fail("tests/ui/task_not_async.rs");
}
