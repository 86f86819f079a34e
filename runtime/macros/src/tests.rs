//! The expansions, token for token, and the helpers behind the messages. What each misuse
//! prints is pinned by the trybuild cases in tests/ui.

use crate::entry::{self, Kind};
use crate::task;
use quote::quote;

fn same(got: proc_macro2::TokenStream, want: proc_macro2::TokenStream) {
    assert_eq!(got.to_string(), want.to_string());
}

#[test]
fn main_expands_to_a_runtime_built_from_the_keys() {
    let got = entry::expand(
        Kind::Main,
        quote!(
            priority = 80,
            cpu = 1,
            capacity = 16,
            slot_size = 1024,
            backend = "host",
            name = "control"
        ),
        quote! {
            /// Docs.
            #[allow(unused_mut)]
            async fn main() -> Result<(), evl::Error> { Ok(()) }
        },
    );
    same(
        got,
        quote! {
            /// Docs.
            #[allow(unused_mut)]
            fn main() -> Result<(), evl::Error> {
                #[allow(unused_mut)]
                async fn __evl_main() -> Result<(), evl::Error> { Ok(()) }
                let __rt = ::evl::Runtime::builder()
                    .backend(::evl::core::backend::Selection::Force(::evl::Backend::Host))
                    .handle_signals(true)
                    .main(::evl::ExecutorConfig::new("control").priority(80).cpu(1).capacity(16).slot_size(1024))
                    .build();
                let __rt = match __rt {
                    ::core::result::Result::Ok(rt) => rt,
                    ::core::result::Result::Err(e) => {
                        ::std::eprintln!("evl: cannot start the runtime: {}", e);
                        ::std::process::exit(1)
                    }
                };
                match __rt.block_on(__evl_main()) {
                    ::core::result::Result::Ok(v) => v,
                    ::core::result::Result::Err(e) => {
                        ::std::eprintln!("evl: runtime failed: {}", e);
                        ::std::process::exit(1)
                    }
                }
            }
        },
    );
}

#[test]
fn main_defaults_add_nothing_but_signals() {
    let got = entry::expand(
        Kind::Main,
        quote!(),
        quote!(
            async fn main() {}
        ),
    );
    let got = got.to_string();
    assert!(got.contains(
        &quote!(::evl::Runtime::builder()
            .handle_signals(true)
            .main(::evl::ExecutorConfig::new("main"))
            .build())
        .to_string()
    ));
    let auto = entry::expand(
        Kind::Main,
        quote!(backend = "auto", signals = false, lock_memory = false),
        quote!(
            async fn main() {}
        ),
    );
    assert!(auto.to_string().contains(
        &quote!(::evl::Runtime::builder()
            .backend(::evl::core::backend::Selection::Auto)
            .handle_signals(false)
            .main(::evl::ExecutorConfig::new("main").lock_memory(false))
            .build())
        .to_string()
    ));
}

#[test]
fn slot_size_takes_a_const_expression_checked_at_compile_time() {
    let got = entry::expand(
        Kind::Main,
        quote!(slot_size = evl::task::slot_size(control)),
        quote!(
            async fn main() {}
        ),
    );
    assert!(got.to_string().contains(
        &quote!(.main(::evl::ExecutorConfig::new("main").slot_size({
            const __EVL_SLOT_SIZE: usize = evl::task::slot_size(control);
            const _: () = ::core::assert!(
                __EVL_SLOT_SIZE >= 1 && __EVL_SLOT_SIZE <= 1 << 30,
                "slot_size goes from 1 to 1073741824 (2^30) bytes"
            );
            __EVL_SLOT_SIZE
        })))
        .to_string()
    ));
}

#[test]
fn priority_zero_asks_for_sched_other_and_tests_default_to_it() {
    let main = entry::expand(
        Kind::Main,
        quote!(priority = 0),
        quote!(
            async fn main() {}
        ),
    );
    assert!(main
        .to_string()
        .contains(&quote!(.main(::evl::ExecutorConfig::new("main").priority(0))).to_string()));
    let test = entry::expand(
        Kind::Test,
        quote!(priority = 20),
        quote!(
            async fn t() {}
        ),
    );
    assert!(test.to_string().contains(
        &quote!(.main(::evl::ExecutorConfig::new("t").priority(20).lock_memory(false))).to_string()
    ));
}

#[test]
fn test_expands_to_a_test_without_privileges() {
    let got = entry::expand(
        Kind::Test,
        quote!(),
        quote!(
            async fn sleeps() -> Result<(), evl::Error> {
                Ok(())
            }
        ),
    );
    same(
        got,
        quote! {
            #[::core::prelude::v1::test]
            fn sleeps() -> Result<(), evl::Error> {
                async fn __evl_test() -> Result<(), evl::Error> { Ok(()) }
                let __rt = ::evl::Runtime::builder()
                    .handle_signals(false)
                    .main(::evl::ExecutorConfig::new("sleeps").priority(0).lock_memory(false))
                    .build();
                let __rt = match __rt {
                    ::core::result::Result::Ok(rt) => rt,
                    ::core::result::Result::Err(e) => {
                        ::core::panic!("#[evl::test]: cannot start the runtime: {}", e)
                    }
                };
                match __rt.block_on(__evl_test()) {
                    ::core::result::Result::Ok(v) => v,
                    ::core::result::Result::Err(e) => {
                        ::core::panic!("#[evl::test]: the runtime failed: {}", e)
                    }
                }
            }
        },
    );
}

#[test]
fn test_name_defaults_to_a_valid_element_name() {
    let long = entry::expand(
        Kind::Test,
        quote!(),
        quote!(
            async fn a_test_name_that_is_much_longer_than_the_sixty_three_bytes_an_element_name_may_have(
            ) {
            }
        ),
    );
    assert!(long
        .to_string()
        .contains("\"a_test_name_that_is_much_longer_than_the_sixty_three_bytes_an_e\""));
    let raw = entry::expand(
        Kind::Test,
        quote!(backend = "evl"),
        quote!(
            async fn r#loop() {}
        ),
    );
    let raw = raw.to_string();
    assert!(raw.contains("new (\"loop\")"), "{raw}");
    assert!(raw.contains(&quote!(Force(::evl::Backend::Evl)).to_string()));
}

#[test]
fn task_expands_to_a_static_pool_and_a_spawner() {
    let got = task::expand(
        quote!(pool_size = 2),
        quote! {
            /// Docs.
            pub async fn blink((a, b): (u32, u32), mut n: u32) -> u32 { n + a + b }
        },
    );
    same(
        got,
        quote! {
            /// Docs.
            pub fn blink(__evl_arg0: (u32, u32), n: u32)
                -> ::evl::task::PoolSpawn<impl ::core::future::Future<Output = u32> + 'static>
            {
                async fn __evl_task((a, b): (u32, u32), mut n: u32) -> u32 { n + a + b }
                const __POOL_SIZE: usize = 2;
                static __POOL: ::evl::task::TaskPoolHolder<
                    { ::evl::task::task_pool_size::<_, _, _, __POOL_SIZE>(__evl_task) },
                > = ::evl::task::TaskPoolHolder::new();
                let __pool = unsafe { __POOL.pool::<_, _, _, __POOL_SIZE>(__evl_task) };
                __pool.spawner(__evl_task(__evl_arg0, n), "blink")
            }
        },
    );
}

#[test]
fn task_pool_size_defaults_to_1_and_a_const_is_checked_by_the_compiler() {
    let one = task::expand(
        quote!(),
        quote!(
            async fn once() {}
        ),
    )
    .to_string();
    assert!(
        one.contains(
            &quote!(
                const __POOL_SIZE: usize = 1;
            )
            .to_string()
        ),
        "{one}"
    );
    assert!(one.contains(&quote!(Output = ()).to_string()), "{one}");
    let by_const = task::expand(
        quote!(pool_size = N),
        quote!(
            async fn many() {}
        ),
    )
    .to_string();
    assert!(by_const.contains(
        &quote!(
            const __POOL_SIZE: usize = N;
        )
        .to_string()
    ));
    assert!(
        by_const.contains(":: core :: assert ! (__POOL_SIZE >= 1"),
        "{by_const}"
    );
}

#[test]
fn errors_come_with_a_stand_in_function() {
    let main = entry::expand(
        Kind::Main,
        quote!(priority = 100),
        quote!(
            async fn main() {}
        ),
    )
    .to_string();
    assert!(main.contains("compile_error"));
    assert!(
        main.contains(
            &quote!(
                fn main() {}
            )
            .to_string()
        ),
        "{main}"
    );
    let task = task::expand(
        quote!(pool_size = 0),
        quote!(
            async fn t() {}
        ),
    )
    .to_string();
    assert!(task.contains("compile_error"));
    assert!(
        task.contains(
            &quote!(
                async fn t() {}
            )
            .to_string()
        ),
        "{task}"
    );
}
