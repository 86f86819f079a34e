//! `#[evl::main]` and `#[evl::test]`: an `async fn` becomes a plain `fn` that builds a
//! [`Runtime`](../evl/struct.Runtime.html) and `block_on`s the body.

use crate::attr::{self, Arg, Errors};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ItemFn, LitBool, LitStr};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Main,
    Test,
}

impl Kind {
    fn what(self) -> &'static str {
        match self {
            Kind::Main => "#[evl::main]",
            Kind::Test => "#[evl::test]",
        }
    }
}

const KEYS: &[&str] = &[
    "priority",
    "cpu",
    "capacity",
    "slot_size",
    "backend",
    "name",
    "signals",
    "lock_memory",
];

/// The longest element name the core accepts (`evl::core::name::MAX_NAME_LEN`).
const MAX_NAME_LEN: usize = 63;

/// `slot_size = N`: an integer literal (range-checked here) or a `usize` const expression
/// such as `evl::task::slot_size(control)` (checked at compile time by the expansion).
enum SlotSize {
    Lit(u64, Span),
    Expr(Expr),
}

enum Backend {
    Host,
    Evl,
    Auto,
}

#[derive(Default)]
struct Options {
    priority: Option<(u64, Span)>,
    cpu: Option<(u64, Span)>,
    capacity: Option<(u64, Span)>,
    slot_size: Option<SlotSize>,
    backend: Option<(Backend, Span)>,
    name: Option<LitStr>,
    signals: Option<LitBool>,
    lock_memory: Option<LitBool>,
}

fn options(kind: Kind, attr: TokenStream, errors: &mut Errors) -> Options {
    let what = kind.what();
    let mut o = Options::default();
    for arg in attr::parse(attr, what, KEYS, errors) {
        let Arg { key, value } = &arg;
        match key.to_string().as_str() {
            "priority" => {
                o.priority = attr::int(
                    &arg,
                    0,
                    99,
                    "a SCHED_FIFO priority goes from 1 to 99, and 0 asks for SCHED_OTHER (leave \
                 `priority` out for the default: SCHED_FIFO 40 where permitted)",
                    errors,
                )
            }
            "cpu" => {
                o.cpu = attr::int(
                    &arg,
                    0,
                    u32::MAX.into(),
                    "the CPU number to pin the executor to",
                    errors,
                )
            }
            "capacity" => o.capacity = attr::int(
                &arg,
                1,
                1 << 24,
                "the executor's task capacity (tasks alive at once) goes from 1 to 16777216 (2^24)",
                errors,
            ),
            "slot_size" => {
                let mut lit = &arg.value;
                while let Expr::Group(g) = lit {
                    lit = &g.expr;
                }
                o.slot_size = if let Expr::Lit(_) = lit {
                    attr::int(
                        &arg,
                        1,
                        1 << 30,
                        "the bytes of one task slot (the largest task spawned with evl::spawn) go \
                         from 1 to 1073741824 (2^30), rounded up to 64",
                        errors,
                    )
                    .map(|(n, span)| SlotSize::Lit(n, span))
                } else {
                    // A const expression, e.g. `evl::task::slot_size(control)`: checked at
                    // compile time by the expansion.
                    Some(SlotSize::Expr(arg.value.clone()))
                };
            }
            "backend" => {
                const RULE: &str = "\"host\", \"evl\" or \"auto\"";
                if let Some(s) = attr::string(&arg, RULE, errors) {
                    o.backend = match s.value().as_str() {
                        "host" => Some((Backend::Host, s.span())),
                        "evl" => Some((Backend::Evl, s.span())),
                        "auto" => Some((Backend::Auto, s.span())),
                        other => {
                            errors.at(
                                &s,
                                format!(
                                    "unknown backend {other:?}: write backend = \"host\" (stock or PREEMPT_RT Linux), \
                                     \"evl\" (the EVL core) or \"auto\" (EVL when /dev/evl is there)"
                                ),
                            );
                            None
                        }
                    }
                }
            }
            "name" => {
                let rule = "the executor's thread name, 1 to 63 printable ASCII bytes";
                if let Some(s) = attr::string(&arg, rule, errors) {
                    match name_problem(&s.value()) {
                        None => o.name = Some(s),
                        Some(why) => errors.at(&s, format!("{why} (e.g. `name = \"control\"`)")),
                    }
                }
            }
            "signals" => o.signals = attr::bool(&arg, errors),
            "lock_memory" => o.lock_memory = attr::bool(&arg, errors),
            _ => errors.at(value, "unhandled key"), // parse() only lets KEYS through
        }
    }
    o
}

/// Why `name` is no element name (the rules of `evl::core::name::Name`), if it is not one.
fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("the executor name must not be empty")
    } else if name.len() > MAX_NAME_LEN {
        Some("the executor name is too long: use at most 63 bytes")
    } else if name.starts_with('.') {
        Some("the executor name must not start with '.'")
    } else if !name.bytes().all(|b| b.is_ascii_graphic() && b != b'/') {
        Some("the executor name uses printable ASCII without '/' or spaces")
    } else {
        None
    }
}

fn check_signature(kind: Kind, f: &ItemFn, errors: &mut Errors) {
    let what = kind.what();
    let sig = &f.sig;
    let name = &sig.ident;
    let write = format!("async fn {name}()");
    let fn_token = &sig.fn_token;
    if sig.asyncness.is_none() {
        errors.at(
            quote!(#fn_token #name),
            format!("{what} needs an async function: write `{write}`"),
        );
    }
    if let Some(c) = &sig.constness {
        errors.at(c, format!("{what} cannot be `const`: write `{write}`"));
    }
    if let Some(u) = &sig.unsafety {
        errors.at(
            u,
            format!("{what} cannot be `unsafe`: write `{write}` and put `unsafe` blocks inside"),
        );
    }
    if let Some(abi) = &sig.abi {
        errors.at(abi, format!("{what} cannot have an ABI: write `{write}`"));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.at(
            &sig.generics,
            format!("{what} cannot be generic: remove the generic parameters and write `{write}`"),
        );
    }
    if !sig.inputs.is_empty() || sig.variadic.is_some() {
        let msg = match kind {
            Kind::Main => format!(
                "{what} takes no arguments: write `{write}` (read the command line with `std::env::args()`)"
            ),
            Kind::Test => format!(
                "{what} takes no arguments: write `{write}` and build what the test needs inside it"
            ),
        };
        errors.at(&sig.inputs, msg);
    }
    if kind == Kind::Test {
        for a in &f.attrs {
            if a.path().is_ident("test") {
                errors.at(
                    a,
                    "#[evl::test] already makes this a test: remove the `#[test]` attribute",
                );
            }
        }
    }
}

pub(crate) fn expand(kind: Kind, attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let opts = options(kind, attr, &mut errors);
    let f: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let what = kind.what();
            let mut out = syn::Error::new(
                e.span(),
                format!("{what} goes on an `async fn`, e.g. `{what} async fn main() {{ ... }}`"),
            )
            .to_compile_error();
            if let Err(more) = errors.into_result() {
                out.extend(more.to_compile_error());
            }
            out.extend(item);
            return out;
        }
    };
    check_signature(kind, &f, &mut errors);
    if let Err(e) = errors.into_result() {
        // Stand in for the function so that the only errors are ours (no "`main` not
        // found", no "main cannot be async").
        let name = &f.sig.ident;
        let mut out = e.to_compile_error();
        out.extend(quote! {
            #[allow(unused)]
            fn #name() {}
        });
        return out;
    }
    generate(kind, &opts, f)
}

fn generate(kind: Kind, o: &Options, f: ItemFn) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = f;
    let name = &sig.ident;
    let output = &sig.output;
    let lints: Vec<&Attribute> = attrs.iter().filter(|a| attr::is_lint(a)).collect();
    let inner = match kind {
        Kind::Main => format_ident!("__evl_main"),
        Kind::Test => format_ident!("__evl_test"),
    };

    let exec_name = match (&o.name, kind) {
        (Some(s), _) => s.clone(),
        (None, Kind::Main) => LitStr::new("main", Span::call_site()),
        (None, Kind::Test) => {
            let n = name.to_string();
            let n = n.strip_prefix("r#").unwrap_or(&n);
            let n = if name_problem(n).is_none() {
                n
            } else {
                &n[..n.len().min(MAX_NAME_LEN)]
            };
            let n = if name_problem(n).is_none() { n } else { "test" };
            LitStr::new(n, name.span())
        }
    };
    let mut config = quote!(::evl::ExecutorConfig::new(#exec_name));
    match (o.priority, kind) {
        (Some((p, span)), _) => {
            let p = attr::unsuffixed(p, span);
            config.extend(quote_spanned!(span=> .priority(#p)));
        }
        // Tests run at SCHED_OTHER unless they ask: many run at once on few CPUs, and a
        // busy SCHED_FIFO test would starve the others (and the test harness).
        (None, Kind::Test) => config.extend(quote!(.priority(0))),
        // Real-time by default (SCHED_FIFO evl::runtime::DEFAULT_PRIORITY, or a note).
        (None, Kind::Main) => {}
    }
    if let Some((c, span)) = o.cpu {
        let c = attr::unsuffixed(c, span);
        config.extend(quote_spanned!(span=> .cpu(#c)));
    }
    if let Some((t, span)) = o.capacity {
        let t = attr::unsuffixed(t, span);
        config.extend(quote_spanned!(span=> .capacity(#t)));
    }
    match &o.slot_size {
        Some(SlotSize::Lit(b, span)) => {
            let b = attr::unsuffixed(*b, *span);
            config.extend(quote_spanned!(*span=> .slot_size(#b)));
        }
        Some(SlotSize::Expr(e)) => config.extend(quote_spanned! {e.span()=>
            .slot_size({
                const __EVL_SLOT_SIZE: usize = #e;
                const _: () = ::core::assert!(
                    __EVL_SLOT_SIZE >= 1 && __EVL_SLOT_SIZE <= 1 << 30,
                    "slot_size goes from 1 to 1073741824 (2^30) bytes"
                );
                __EVL_SLOT_SIZE
            })
        }),
        None => {}
    }
    match (&o.lock_memory, kind) {
        (Some(b), _) => config.extend(quote!(.lock_memory(#b))),
        (None, Kind::Test) => config.extend(quote!(.lock_memory(false))),
        (None, Kind::Main) => {}
    }

    let mut builder = quote!(::evl::Runtime::builder());
    if let Some((b, span)) = &o.backend {
        let selection = match b {
            Backend::Host => quote!(::evl::core::backend::Selection::Force(::evl::Backend::Host)),
            Backend::Evl => quote!(::evl::core::backend::Selection::Force(::evl::Backend::Evl)),
            Backend::Auto => quote!(::evl::core::backend::Selection::Auto),
        };
        builder.extend(quote_spanned!(*span=> .backend(#selection)));
    }
    let signals = match (&o.signals, kind) {
        (Some(b), _) => b.to_token_stream(),
        (None, Kind::Main) => quote!(true),
        (None, Kind::Test) => quote!(false),
    };
    builder.extend(quote!(.handle_signals(#signals).main(#config).build()));

    match kind {
        Kind::Main => quote! {
            #(#attrs)*
            #vis fn #name() #output {
                #(#lints)*
                async fn #inner() #output #block
                let __rt = #builder;
                let __rt = match __rt {
                    ::core::result::Result::Ok(rt) => rt,
                    ::core::result::Result::Err(e) => {
                        ::std::eprintln!("evl: cannot start the runtime: {}", e);
                        ::std::process::exit(1)
                    }
                };
                match __rt.block_on(#inner()) {
                    ::core::result::Result::Ok(v) => v,
                    ::core::result::Result::Err(e) => {
                        ::std::eprintln!("evl: runtime failed: {}", e);
                        ::std::process::exit(1)
                    }
                }
            }
        },
        Kind::Test => quote! {
            #[::core::prelude::v1::test]
            #(#attrs)*
            #vis fn #name() #output {
                #(#lints)*
                async fn #inner() #output #block
                let __rt = #builder;
                let __rt = match __rt {
                    ::core::result::Result::Ok(rt) => rt,
                    ::core::result::Result::Err(e) => {
                        ::core::panic!("#[evl::test]: cannot start the runtime: {}", e)
                    }
                };
                match __rt.block_on(#inner()) {
                    ::core::result::Result::Ok(v) => v,
                    ::core::result::Result::Err(e) => {
                        ::core::panic!("#[evl::test]: the runtime failed: {}", e)
                    }
                }
            }
        },
    }
}
