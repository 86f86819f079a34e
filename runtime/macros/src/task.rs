//! `#[evl::task(pool_size = N)]`: an `async fn` gets a static pool of `N` task slots (in
//! `.bss`, no heap), and calling it returns an `evl::task::PoolSpawn` for one of them.

use crate::attr::{self, Errors};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    Attribute, Expr, FnArg, GenericArgument, Ident, ItemFn, LitStr, Pat, PathArguments, ReturnType,
    Type, TypeParamBound,
};

const WHAT: &str = "#[evl::task]";

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let pool_size = pool_size(attr, &mut errors);
    let f: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let mut out = syn::Error::new(
                e.span(),
                "#[evl::task] goes on an `async fn`, e.g. `#[evl::task(pool_size = 2)] async fn blink(pin: u32) { ... }`",
            )
            .to_compile_error();
            if let Err(more) = errors.into_result() {
                out.extend(more.to_compile_error());
            }
            out.extend(item);
            return out;
        }
    };
    check_signature(&f, &mut errors);
    match errors.into_result() {
        // The function as written stays (quietly), so that the only errors are ours.
        Err(e) => {
            let mut out = e.to_compile_error();
            out.extend(quote!(#[allow(unused)]));
            out.extend(item);
            out
        }
        Ok(()) => generate(pool_size, f),
    }
}

/// `pool_size = N`: an integer literal >= 1 (checked here) or a `usize` const expression
/// (checked at compile time by the expansion). Default 1.
fn pool_size(attr: TokenStream, errors: &mut Errors) -> Expr {
    let mut size: Expr = syn::parse_quote!(1);
    for arg in attr::parse(attr, WHAT, &["pool_size"], errors) {
        size = arg.value.clone();
        let mut lit = &arg.value;
        while let Expr::Group(g) = lit {
            lit = &g.expr;
        }
        if let Expr::Lit(_) = lit {
            let rule = "a pool holds at least 1 task (`pool_size = 1` is the default)";
            if let Some((n, span)) = attr::int(&arg, 1, u32::MAX.into(), rule, errors) {
                size = Expr::Lit(syn::ExprLit {
                    attrs: Vec::new(),
                    lit: attr::unsuffixed(n, span).into(),
                });
            }
        }
    }
    size
}

fn check_signature(f: &ItemFn, errors: &mut Errors) {
    let sig = &f.sig;
    let name = &sig.ident;
    let fn_token = &sig.fn_token;
    if sig.asyncness.is_none() {
        errors.at(
            quote!(#fn_token #name),
            format!("{WHAT} needs an async function: write `async fn {name}(...)`"),
        );
    }
    if let Some(c) = &sig.constness {
        errors.at(
            c,
            format!("{WHAT} cannot be `const`: write `async fn {name}(...)`"),
        );
    }
    if let Some(u) = &sig.unsafety {
        errors.at(
            u,
            format!("{WHAT} cannot be `unsafe`: write `async fn {name}(...)` and put `unsafe` blocks inside"),
        );
    }
    if let Some(abi) = &sig.abi {
        errors.at(
            abi,
            format!("{WHAT} cannot have an ABI: write `async fn {name}(...)`"),
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.at(
            &sig.generics,
            format!(
                "{WHAT} cannot be generic: a pool holds one future type, so name concrete argument types \
                 (a `&'static dyn Trait` or an enum argument covers several), or write one task per type"
            ),
        );
    }
    if let Some(v) = &sig.variadic {
        errors.at(v, format!("{WHAT} cannot be variadic"));
    }
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(r) => errors.at(
                r,
                format!(
                    "{WHAT} goes on free functions, not methods: take the value as an argument, \
                     e.g. `async fn {name}(dev: &'static Device)`"
                ),
            ),
            FnArg::Typed(t) => check_type(&t.ty, errors),
        }
    }
}

/// Task arguments end up in a `'static` slot: no `impl Trait` (that is a hidden generic), no
/// borrow with an elided or `'_` lifetime.
fn check_type(ty: &Type, errors: &mut Errors) {
    match ty {
        Type::ImplTrait(t) => errors.at(
            t,
            format!(
                "{WHAT} arguments cannot be `impl Trait` (a hidden generic): name the concrete type, \
                 or take a `&'static dyn Trait`"
            ),
        ),
        Type::Reference(r) => {
            match &r.lifetime {
                None => errors.at(
                    r,
                    format!("{WHAT} arguments live as long as the task: write `&'static` here, or pass an owned value"),
                ),
                Some(l) if l.ident == "_" => errors.at(
                    l,
                    format!("{WHAT} arguments live as long as the task: write `'static` here, or pass an owned value"),
                ),
                Some(_) => {}
            }
            check_type(&r.elem, errors);
        }
        Type::Array(a) => check_type(&a.elem, errors),
        Type::Slice(s) => check_type(&s.elem, errors),
        Type::Ptr(p) => check_type(&p.elem, errors),
        Type::Paren(p) => check_type(&p.elem, errors),
        Type::Group(g) => check_type(&g.elem, errors),
        Type::Tuple(t) => t.elems.iter().for_each(|e| check_type(e, errors)),
        Type::Path(p) => {
            if let Some(q) = &p.qself {
                check_type(&q.ty, errors);
            }
            for seg in &p.path.segments {
                if let PathArguments::AngleBracketed(a) = &seg.arguments {
                    for arg in &a.args {
                        match arg {
                            GenericArgument::Type(t) => check_type(t, errors),
                            GenericArgument::Lifetime(l) if l.ident == "_" => errors.at(
                                l,
                                format!("{WHAT} arguments live as long as the task: write `'static` here"),
                            ),
                            _ => {}
                        }
                    }
                }
            }
        }
        Type::TraitObject(t) => {
            for b in &t.bounds {
                if let TypeParamBound::Lifetime(l) = b {
                    if l.ident == "_" {
                        errors.at(
                            l,
                            format!("{WHAT} arguments live as long as the task: write `'static` here"),
                        );
                    }
                }
            }
        }
        // fn pointers' elided lifetimes are higher-ranked, fine; the rest is checked by rustc.
        _ => {}
    }
}

fn generate(pool_size: Expr, f: ItemFn) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = f;
    let name = &sig.ident;
    let name_str = {
        let n = name.to_string();
        LitStr::new(n.strip_prefix("r#").unwrap_or(&n), name.span())
    };
    let lints: Vec<&Attribute> = attrs.iter().filter(|a| attr::is_lint(a)).collect();
    let inner = format_ident!("__evl_task");
    let inputs = &sig.inputs;
    let output = &sig.output;
    let ret = match output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, t) => quote!(#t),
    };
    // The outer function takes each argument by a plain name: the user's own when the pattern
    // is one (`mut` dropped), `__evl_argN` otherwise; the inner `async fn` keeps the patterns.
    let (arg_names, arg_types): (Vec<Ident>, Vec<&Type>) = inputs
        .iter()
        .enumerate()
        .filter_map(|(i, input)| match input {
            FnArg::Typed(t) => {
                let n = match &*t.pat {
                    Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => p.ident.clone(),
                    _ => format_ident!("__evl_arg{}", i, span = t.pat.span()),
                };
                Some((n, &*t.ty))
            }
            FnArg::Receiver(_) => None, // rejected by check_signature
        })
        .unzip();
    let size_check = match &pool_size {
        Expr::Lit(_) => quote!(),
        _ => quote_spanned! {pool_size.span()=>
            const _: () = ::core::assert!(__POOL_SIZE >= 1, "#[evl::task]: pool_size must be at least 1");
        },
    };
    quote! {
        #(#attrs)*
        #vis fn #name(#(#arg_names: #arg_types),*)
            -> ::evl::task::PoolSpawn<impl ::core::future::Future<Output = #ret> + 'static>
        {
            #(#lints)*
            async fn #inner(#inputs) #output #block
            const __POOL_SIZE: usize = #pool_size;
            #size_check
            static __POOL: ::evl::task::TaskPoolHolder<
                { ::evl::task::task_pool_size::<_, _, _, __POOL_SIZE>(#inner) },
            > = ::evl::task::TaskPoolHolder::new();
            // SAFETY: the holder was sized by task_pool_size for this very function and pool size.
            let __pool = unsafe { __POOL.pool::<_, _, _, __POOL_SIZE>(#inner) };
            __pool.spawner(#inner(#(#arg_names),*), #name_str)
        }
    }
}
