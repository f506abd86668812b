//! Constraints over axis and fixed names: arithmetic (`+ - * / // %`), comparisons,
//! `and` / `or` / `not` (also `&&`, `||`, `!`), parentheses, numbers, strings and
//! true/false. Parsed once into a tree whose names are resolved to slots, then evaluated
//! per candidate without allocation. Numbers follow Python: integers stay exact 64-bit
//! integers (`/` gives a float, `//` and `%` floor), an integer overflow or a division by
//! zero makes that one candidate invalid.
use std::cmp::Ordering;
use std::fmt;

use super::Scalar;
use crate::error::{Error, Result};

/// Where a name's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Slot {
    Axis(usize),
    Fixed(Scalar),
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Lit(Scalar),
    Var(usize, String),
    Fixed(Scalar),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Bin(Op, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Rem,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

#[derive(Debug, Clone)]
pub struct Constraint {
    pub text: String,
    /// The space file, for errors found only when a candidate is evaluated.
    location: String,
    expr: Expr,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Int(i64),
    Num(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
    LParen,
    RParen,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Int(i) => write!(f, "number {i}"),
            Tok::Num(n) => write!(f, "number {n}"),
            Tok::Str(s) => write!(f, "string '{s}'"),
            Tok::Ident(w) => write!(f, "name '{w}'"),
            Tok::Op(op) => write!(f, "'{op}'"),
            Tok::LParen => write!(f, "'('"),
            Tok::RParen => write!(f, "')'"),
        }
    }
}

/// Tokens of one constraint, and nesting of parentheses and unary operators: parsing,
/// evaluating and dropping the tree recurse, so hostile text must not exhaust the stack.
const MAX_TOKENS: usize = 1000;
const MAX_NESTING: usize = 64;

const OPERATORS: [&str; 18] = [
    "//", "==", "!=", "<=", ">=", "&&", "||", "+", "-", "*", "/", "%", "<", ">", "!", "=", "&", "|",
];

fn lex(text: &str, location: &str) -> Result<Vec<Tok>> {
    let err = |m: String| Error::Space {
        location: location.to_string(),
        message: m,
    };
    let quoted = shown(text);
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit() || matches!(chars[i], '.' | 'e' | 'E' | '_'))
            {
                i += 1;
            }
            let s: String = chars[start..i].iter().filter(|&&c| c != '_').collect();
            let not_a_number = || err(format!("'{s}' is not a number in constraint '{quoted}'"));
            toks.push(if s.contains(['.', 'e', 'E']) {
                Tok::Num(s.parse().map_err(|_| not_a_number())?)
            } else {
                Tok::Int(s.parse().map_err(|_| {
                    err(format!(
                        "'{s}' in constraint '{quoted}' is beyond 64-bit integers"
                    ))
                })?)
            });
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.')) {
                i += 1;
            }
            toks.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if c == '"' || c == '\'' {
            let end = chars[i + 1..]
                .iter()
                .position(|&x| x == c)
                .ok_or_else(|| err(format!("unclosed string in constraint '{quoted}'")))?;
            toks.push(Tok::Str(chars[i + 1..i + 1 + end].iter().collect()));
            i += end + 2;
        } else if c == '(' {
            toks.push(Tok::LParen);
            i += 1;
        } else if c == ')' {
            toks.push(Tok::RParen);
            i += 1;
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let op = OPERATORS
                .iter()
                .find(|op| rest.starts_with(*op))
                .ok_or_else(|| err(format!("unexpected '{c}' in constraint '{quoted}'")))?;
            if matches!(*op, "=" | "&" | "|") {
                return Err(err(format!(
                    "'{op}' in constraint '{quoted}': use == for equality, and / or for logic"
                )));
            }
            toks.push(Tok::Op(op));
            i += op.len();
        }
    }
    Ok(toks)
}

/// A constraint as errors quote it: whole unless it is very long.
fn shown(text: &str) -> String {
    const SHOWN: usize = 80;
    match text.char_indices().nth(SHOWN) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    nesting: usize,
    text: &'a str,
    location: &'a str,
    resolve: &'a dyn Fn(&str) -> Option<Slot>,
}

impl Parser<'_> {
    fn err(&self, message: String) -> Error {
        Error::Space {
            location: self.location.to_string(),
            message: format!("constraint '{}': {message}", shown(self.text)),
        }
    }

    fn peek_op(&self, ops: &[&str]) -> Option<&'static str> {
        match self.toks.get(self.pos) {
            Some(Tok::Op(op)) if ops.contains(op) => Some(op),
            Some(Tok::Ident(w)) => {
                let op = match w.as_str() {
                    "and" => "&&",
                    "or" => "||",
                    "not" => "!",
                    _ => return None,
                };
                ops.contains(&op).then_some(op)
            }
            _ => None,
        }
    }

    fn binary(&mut self, level: usize) -> Result<Expr> {
        const LEVELS: [&[&str]; 5] = [
            &["||"],
            &["&&"],
            &["==", "!=", "<", "<=", ">", ">="],
            &["+", "-"],
            &["*", "/", "//", "%"],
        ];
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut lhs = self.binary(level + 1)?;
        while let Some(op) = self.peek_op(LEVELS[level]) {
            self.pos += 1;
            let rhs = self.binary(level + 1)?;
            let op = match op {
                "||" => Op::Or,
                "&&" => Op::And,
                "==" => Op::Eq,
                "!=" => Op::Ne,
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                ">=" => Op::Ge,
                "+" => Op::Add,
                "-" => Op::Sub,
                "*" => Op::Mul,
                "/" => Op::Div,
                "//" => Op::FloorDiv,
                _ => Op::Rem,
            };
            lhs = Expr::Bin(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.err(format!("nests deeper than {MAX_NESTING} levels")));
        }
        let e = self.operand();
        self.nesting -= 1;
        e
    }

    fn operand(&mut self) -> Result<Expr> {
        if self.peek_op(&["!"]).is_some() {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.peek_op(&["-"]).is_some() {
            self.pos += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        let tok = self
            .toks
            .get(self.pos)
            .cloned()
            .ok_or_else(|| self.err("ends too early".into()))?;
        self.pos += 1;
        match tok {
            Tok::Int(i) => Ok(Expr::Lit(Scalar::Int(i))),
            Tok::Num(n) => Ok(Expr::Lit(Scalar::Float(n))),
            Tok::Str(s) => Ok(Expr::Lit(Scalar::Str(s))),
            Tok::Ident(w) if w == "true" || w == "True" => Ok(Expr::Lit(Scalar::Bool(true))),
            Tok::Ident(w) if w == "false" || w == "False" => Ok(Expr::Lit(Scalar::Bool(false))),
            Tok::Ident(name) => match (self.resolve)(&name) {
                Some(Slot::Axis(i)) => Ok(Expr::Var(i, name)),
                Some(Slot::Fixed(v)) => Ok(Expr::Fixed(v)),
                None => Err(self.err(format!(
                    "unknown name '{name}' (not an axis, a fixed parameter or a run setting)"
                ))),
            },
            Tok::LParen => {
                let e = self.binary(0)?;
                match self.toks.get(self.pos) {
                    Some(Tok::RParen) => {
                        self.pos += 1;
                        Ok(e)
                    }
                    _ => Err(self.err("missing ')'".into())),
                }
            }
            other => Err(self.err(format!("unexpected {other}"))),
        }
    }
}

impl Constraint {
    pub fn parse(
        text: &str,
        location: &str,
        resolve: &dyn Fn(&str) -> Option<Slot>,
    ) -> Result<Constraint> {
        let toks = lex(text, location)?;
        let mut p = Parser {
            toks,
            pos: 0,
            nesting: 0,
            text,
            location,
            resolve,
        };
        if p.toks.is_empty() {
            return Err(p.err("is empty".into()));
        }
        if p.toks.len() > MAX_TOKENS {
            return Err(p.err(format!(
                "has {} tokens, more than {MAX_TOKENS}",
                p.toks.len()
            )));
        }
        let expr = p.binary(0)?;
        if p.pos != p.toks.len() {
            return Err(p.err(format!(
                "unexpected {} after a complete expression",
                p.toks[p.pos]
            )));
        }
        Ok(Constraint {
            text: text.to_string(),
            location: location.to_string(),
            expr,
        })
    }

    /// Whether the candidate whose axis values are `value(i)` satisfies the constraint.
    /// Arithmetic that fails for this candidate (a division by zero, an integer
    /// overflow) is `Error::InvalidValue`; a constraint of the wrong type, which fails
    /// for every candidate, is `Error::Space`.
    pub fn holds<'v>(&'v self, value: &dyn Fn(usize) -> &'v Scalar) -> Result<bool> {
        let message = |m: String| format!("constraint '{}': {m}", shown(&self.text));
        let location = self.location.clone();
        match eval(&self.expr, value) {
            Ok(Val::Bool(b)) => Ok(b),
            Ok(_) => Err(Error::Space {
                location,
                message: message("is not a comparison (true/false)".into()),
            }),
            Err(Failure::Type(m)) => Err(Error::Space {
                location,
                message: message(m),
            }),
            Err(Failure::Arithmetic(m)) => Err(Error::invalid(location, message(m))),
        }
    }
}

impl Constraint {
    /// The number a formula evaluates to (custom layers' declared weight and output
    /// sizes use the constraint language for arithmetic).
    pub fn number<'v>(&'v self, value: &dyn Fn(usize) -> &'v Scalar) -> Result<f64> {
        let err = |message: String| Error::InvalidValue {
            location: self.location.clone(),
            message: format!("formula '{}': {message}", shown(&self.text)),
        };
        match eval(&self.expr, value) {
            Ok(Val::Int(n)) => Ok(n as f64),
            Ok(Val::Num(n)) => Ok(n),
            Ok(_) => Err(err("is not a number".into())),
            Err(Failure::Type(m) | Failure::Arithmetic(m)) => Err(err(m)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Val<'a> {
    Int(i64),
    Num(f64),
    Bool(bool),
    Str(&'a str),
}

/// Why a constraint cannot be evaluated: its types (for every candidate) or its
/// arithmetic on this candidate's values.
enum Failure {
    Type(String),
    Arithmetic(String),
}

fn as_val(s: &Scalar) -> Val<'_> {
    match s {
        Scalar::Int(i) => Val::Int(*i),
        Scalar::Float(f) => Val::Num(*f),
        Scalar::Bool(b) => Val::Bool(*b),
        Scalar::Str(s) => Val::Str(s),
    }
}

/// Python's comparison of an integer with a float: exact, whatever their magnitudes.
fn cmp_int_float(i: i64, f: f64) -> Option<Ordering> {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() {
        None
    } else if f >= TWO_63 {
        Some(Ordering::Less)
    } else if f < -TWO_63 {
        Some(Ordering::Greater)
    } else {
        let whole = f.trunc();
        let fraction = f - whole;
        Some(i.cmp(&(whole as i64)).then(0.0_f64.partial_cmp(&fraction)?))
    }
}

fn cmp_numbers(x: Val, y: Val) -> Option<Ordering> {
    match (x, y) {
        (Val::Int(p), Val::Int(q)) => Some(p.cmp(&q)),
        (Val::Int(p), Val::Num(q)) => cmp_int_float(p, q),
        (Val::Num(p), Val::Int(q)) => cmp_int_float(q, p).map(Ordering::reverse),
        (Val::Num(p), Val::Num(q)) => p.partial_cmp(&q),
        _ => None,
    }
}

fn is_number(v: Val) -> bool {
    matches!(v, Val::Int(_) | Val::Num(_))
}

fn as_f64(v: Val) -> f64 {
    match v {
        Val::Int(i) => i as f64,
        Val::Num(f) => f,
        _ => f64::NAN,
    }
}

fn overflow(op: &str) -> Failure {
    Failure::Arithmetic(format!("'{op}' overflows 64-bit integers"))
}

fn by_zero(op: &str) -> Failure {
    Failure::Arithmetic(format!(
        "{} by zero",
        if op == "%" { "modulo" } else { "division" }
    ))
}

/// `+ - * / // %` as Python computes them on ints and floats.
fn arithmetic<'a>(op: Op, x: Val<'a>, y: Val<'a>) -> Result<Val<'a>, Failure> {
    let symbol = match op {
        Op::Add => "+",
        Op::Sub => "-",
        Op::Mul => "*",
        Op::Div => "/",
        Op::FloorDiv => "//",
        _ => "%",
    };
    let zero = matches!(y, Val::Int(0)) || matches!(y, Val::Num(q) if q == 0.0);
    if zero && matches!(op, Op::Div | Op::FloorDiv | Op::Rem) {
        return Err(by_zero(symbol));
    }
    if let (Val::Int(p), Val::Int(q)) = (x, y) {
        let exact = match op {
            Op::Add => p.checked_add(q),
            Op::Sub => p.checked_sub(q),
            Op::Mul => p.checked_mul(q),
            Op::Div => return Ok(Val::Num(p as f64 / q as f64)),
            Op::FloorDiv => p.checked_div(q).map(|d| {
                if p % q != 0 && (p < 0) != (q < 0) {
                    d - 1
                } else {
                    d
                }
            }),
            _ => p.checked_rem(q).map(|r| {
                if r != 0 && (r < 0) != (q < 0) {
                    r + q
                } else {
                    r
                }
            }),
        };
        return exact.map(Val::Int).ok_or_else(|| overflow(symbol));
    }
    let (p, q) = (as_f64(x), as_f64(y));
    Ok(Val::Num(match op {
        Op::Add => p + q,
        Op::Sub => p - q,
        Op::Mul => p * q,
        Op::Div => p / q,
        Op::FloorDiv => (p / q).floor(),
        _ => p - q * (p / q).floor(),
    }))
}

fn eval<'v>(e: &'v Expr, value: &dyn Fn(usize) -> &'v Scalar) -> Result<Val<'v>, Failure> {
    let type_err = |what: &str| Failure::Type(format!("cannot apply {what}"));
    Ok(match e {
        Expr::Lit(s) | Expr::Fixed(s) => as_val(s),
        Expr::Var(i, _) => as_val(value(*i)),
        Expr::Neg(x) => match eval(x, value)? {
            Val::Int(i) => Val::Int(i.checked_neg().ok_or_else(|| overflow("-"))?),
            Val::Num(n) => Val::Num(-n),
            _ => return Err(type_err("'-' to a non-number")),
        },
        Expr::Not(x) => match eval(x, value)? {
            Val::Bool(b) => Val::Bool(!b),
            _ => return Err(type_err("'not' to a non-boolean")),
        },
        Expr::Bin(Op::And, a, b) => Val::Bool(truth(eval(a, value)?)? && truth(eval(b, value)?)?),
        Expr::Bin(Op::Or, a, b) => Val::Bool(truth(eval(a, value)?)? || truth(eval(b, value)?)?),
        Expr::Bin(op, a, b) => {
            let (x, y) = (eval(a, value)?, eval(b, value)?);
            let numbers = is_number(x) && is_number(y);
            match op {
                Op::Eq | Op::Ne => {
                    let equal = if numbers {
                        cmp_numbers(x, y) == Some(Ordering::Equal)
                    } else {
                        x == y
                    };
                    Val::Bool(equal == (*op == Op::Eq))
                }
                _ if !numbers => return Err(type_err("arithmetic or ordering to non-numbers")),
                Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                    let order = cmp_numbers(x, y);
                    Val::Bool(match op {
                        Op::Lt => order == Some(Ordering::Less),
                        Op::Le => matches!(order, Some(Ordering::Less | Ordering::Equal)),
                        Op::Gt => order == Some(Ordering::Greater),
                        _ => matches!(order, Some(Ordering::Greater | Ordering::Equal)),
                    })
                }
                _ => arithmetic(*op, x, y)?,
            }
        }
    })
}

fn truth(v: Val) -> Result<bool, Failure> {
    match v {
        Val::Bool(b) => Ok(b),
        _ => Err(Failure::Type(
            "'and' / 'or' need true/false operands".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(name: &str) -> Option<Slot> {
        match name {
            "hidden_size" => Some(Slot::Axis(0)),
            "num_attention_heads" => Some(Slot::Axis(1)),
            "precision" => Some(Slot::Fixed(Scalar::Str("bf16".into()))),
            _ => None,
        }
    }

    fn check(text: &str, h: i64, n: i64) -> bool {
        let c = Constraint::parse(text, "space.toml", &resolve).unwrap();
        let vals = [Scalar::Int(h), Scalar::Int(n)];
        c.holds(&|i| &vals[i]).unwrap()
    }

    #[test]
    fn arithmetic_comparison_and_logic() {
        assert!(check("hidden_size % num_attention_heads == 0", 768, 12));
        assert!(!check("hidden_size % num_attention_heads == 0", 768, 10));
        assert!(check(
            "hidden_size // num_attention_heads >= 64 and precision == 'bf16'",
            768,
            12
        ));
        assert!(check(
            "not (hidden_size < 100) || num_attention_heads > 100",
            768,
            12
        ));
        assert!(check("-hidden_size + 2 * 400 == 32", 768, 1));
    }

    #[test]
    fn errors_name_the_constraint() {
        let e = Constraint::parse("hidden % 2 == 0", "space.toml", &resolve)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown name 'hidden'") && e.contains("space.toml"),
            "{e}"
        );
        let e = Constraint::parse("hidden_size = 3", "space.toml", &resolve)
            .unwrap_err()
            .to_string();
        assert!(e.contains("use =="), "{e}");
        let e = Constraint::parse("(hidden_size > 3", "space.toml", &resolve)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing ')'"), "{e}");
    }
}
