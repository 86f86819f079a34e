//! The `key = value, ...` lists the three macros take, parsed with spans kept so that each
//! complaint points at the key or value it is about.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Ident, Lit, LitBool, LitInt, LitStr, Meta, Token};

/// One `key = value` of the attribute.
pub(crate) struct Arg {
    pub(crate) key: Ident,
    pub(crate) value: Expr,
}

/// Collects errors so that one expansion reports all of them at once.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    /// An error underlining all of `tokens` (first to last token).
    pub(crate) fn at(&mut self, tokens: impl ToTokens, msg: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, msg));
    }

    pub(crate) fn into_result(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Parses `key = value, ...` and rejects repeated keys and keys not in `known`.
/// `what` names the macro in messages (`#[evl::main]`).
pub(crate) fn parse(
    attr: TokenStream,
    what: &str,
    known: &[&str],
    errors: &mut Errors,
) -> Vec<Arg> {
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(attr) {
        Ok(m) => m,
        Err(e) => {
            errors.push(syn::Error::new(
                e.span(),
                format!(
                    "{what} takes `key = value` pairs separated by commas, e.g. {what_eg}",
                    what_eg = example(what)
                ),
            ));
            return Vec::new();
        }
    };
    let mut args: Vec<Arg> = Vec::new();
    for meta in metas {
        let (path, value) = match meta {
            Meta::NameValue(nv) => (nv.path, Some(nv.value)),
            Meta::Path(p) => (p, None),
            Meta::List(l) => {
                errors.at(
                    &l,
                    format!(
                        "{what} takes `key = value` pairs, not `key(...)`: e.g. {}",
                        example(what)
                    ),
                );
                continue;
            }
        };
        let Some(key) = path.get_ident().cloned() else {
            errors.at(
                &path,
                format!("{what} keys are plain names: {}", known.join(", ")),
            );
            continue;
        };
        let name = key.to_string();
        if !known.contains(&name.as_str()) {
            let hint = renamed(&name, known)
                .or_else(|| closest(&name, known))
                .map(|k| format!(" (did you mean `{k}`?)"))
                .unwrap_or_default();
            let keys = match known {
                [only] => format!("the only key is `{only}`"),
                _ => format!("the keys are {}", known.join(", ")),
            };
            errors.at(
                &key,
                format!("unknown key `{name}` for {what}{hint}: {keys}"),
            );
            continue;
        }
        let Some(value) = value else {
            errors.at(
                &key,
                format!(
                    "`{name}` needs a value: write `{name} = {}`",
                    placeholder(&name)
                ),
            );
            continue;
        };
        if args.iter().any(|a| a.key == key) {
            errors.at(&key, format!("`{name}` is given twice: keep one"));
            continue;
        }
        args.push(Arg { key, value });
    }
    args
}

fn example(what: &str) -> &'static str {
    if what.contains("task") {
        "`#[evl::task(pool_size = 4)]`"
    } else {
        "`#[evl::main(priority = 80, cpu = 1)]`"
    }
}

/// What a value of `key` looks like, for messages.
pub(crate) fn placeholder(key: &str) -> &'static str {
    match key {
        "priority" => "80",
        "cpu" => "1",
        "capacity" => "64",
        "slot_size" => "1024",
        "backend" => "\"host\"",
        "name" => "\"control\"",
        "signals" | "lock_memory" => "true",
        "pool_size" => "4",
        _ => "...",
    }
}

/// The new name of a key that was renamed (`tasks` is `capacity`, as in
/// `ExecutorConfig::capacity`), if it is one of `known`.
fn renamed<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    let new = match name {
        "tasks" => "capacity",
        _ => return None,
    };
    known.iter().find(|k| **k == new).copied()
}

/// The known key closest to a misspelt one, if any is close.
fn closest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (distance(name, k), *k))
        .filter(|&(d, k)| d <= 2.max(k.len() / 3) || k.starts_with(name) || name.starts_with(k))
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

/// Levenshtein distance (keys are a few bytes long).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for j in 0..b.len() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != b[j]))
                .min(row[j] + 1)
                .min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn lit(value: &Expr) -> Option<&Lit> {
    match value {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        Expr::Group(g) => lit(&g.expr),
        _ => None,
    }
}

/// An integer literal in `range` (inclusive); `rule` says what the key takes.
pub(crate) fn int(
    arg: &Arg,
    min: u64,
    max: u64,
    rule: &str,
    errors: &mut Errors,
) -> Option<(u64, Span)> {
    let key = arg.key.to_string();
    let Some(Lit::Int(i)) = lit(&arg.value) else {
        errors.at(
            &arg.value,
            format!(
                "`{key}` takes an integer literal: {rule}, e.g. `{key} = {}`",
                placeholder(&key)
            ),
        );
        return None;
    };
    match i.base10_parse::<u64>() {
        Ok(v) if (min..=max).contains(&v) => Some((v, i.span())),
        _ => {
            errors.at(
                &arg.value,
                format!("`{key} = {}` is out of range: {rule}", i.base10_digits()),
            );
            None
        }
    }
}

/// A `true`/`false` literal.
pub(crate) fn bool(arg: &Arg, errors: &mut Errors) -> Option<LitBool> {
    match lit(&arg.value) {
        Some(Lit::Bool(b)) => Some(b.clone()),
        _ => {
            let key = &arg.key;
            errors.at(&arg.value, format!("`{key}` takes `true` or `false`"));
            None
        }
    }
}

/// A string literal.
pub(crate) fn string(arg: &Arg, rule: &str, errors: &mut Errors) -> Option<LitStr> {
    match lit(&arg.value) {
        Some(Lit::Str(s)) => Some(s.clone()),
        _ => {
            let key = arg.key.to_string();
            errors.at(
                &arg.value,
                format!(
                    "`{key}` takes a string literal: {rule}, e.g. `{key} = {}`",
                    placeholder(&key)
                ),
            );
            None
        }
    }
}

/// An unsuffixed integer literal carrying `span`, so the value takes the parameter's type.
pub(crate) fn unsuffixed(v: u64, span: Span) -> LitInt {
    LitInt::new(&v.to_string(), span)
}

/// Lint attributes (`#[allow(...)]` and kin) also go on the inner `async fn`, where the body is.
pub(crate) fn is_lint(a: &syn::Attribute) -> bool {
    ["allow", "warn", "deny", "forbid", "expect"]
        .iter()
        .any(|l| a.path().is_ident(l))
}
