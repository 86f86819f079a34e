//! Hand-written argument parsing shared by the examples (no clap), their error type, and the
//! `main` wrapper that turns a `run` result into an exit status.

use core::fmt;
use core::str::FromStr;
use core::time::Duration;
use std::process::ExitCode;

/// What can end an example early.
#[derive(Debug)]
pub enum ExampleError {
    /// `--help` was given: print the usage, exit 0.
    Help,
    /// Bad command line: the message says which option and why; exit 2 after the usage.
    Usage(String),
    /// An evl error (its message says what to do).
    Evl(evl::Error),
    /// Anything else (files, peers), already phrased for the user.
    Other(String),
}

impl fmt::Display for ExampleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExampleError::Help => f.write_str("help requested"),
            ExampleError::Usage(m) => f.write_str(m),
            ExampleError::Evl(e) => write!(f, "{e}"),
            ExampleError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ExampleError {}

impl From<evl::Error> for ExampleError {
    fn from(e: evl::Error) -> Self {
        ExampleError::Evl(e)
    }
}

impl From<evl::SpawnError> for ExampleError {
    fn from(e: evl::SpawnError) -> Self {
        ExampleError::Other(format!("cannot spawn a task: {e}"))
    }
}

impl From<evl::JoinError> for ExampleError {
    fn from(e: evl::JoinError) -> Self {
        match e.panic_message() {
            Some(m) => ExampleError::Other(format!("a task panicked: {m}")),
            None => ExampleError::Other(format!("a task did not finish: {e:?}")),
        }
    }
}

/// Result of the examples' `run` functions.
pub type Result<T> = core::result::Result<T, ExampleError>;

/// Shorthand for a usage error.
pub fn usage_err<T>(msg: impl Into<String>) -> Result<T> {
    Err(ExampleError::Usage(msg.into()))
}

/// Walks `--flag value` pairs.
#[derive(Debug)]
pub struct Parser<'a> {
    args: &'a [String],
    pos: usize,
}

impl<'a> Parser<'a> {
    /// Over `args` (the arguments after the program name).
    pub fn new(args: &'a [String]) -> Self {
        Parser { args, pos: 0 }
    }

    /// The next flag, or `None` at the end. `-h`/`--help` become [`ExampleError::Help`]; an
    /// argument that is not a `--flag` is an error.
    pub fn next_flag(&mut self) -> Result<Option<&'a str>> {
        let Some(a) = self.args.get(self.pos) else {
            return Ok(None);
        };
        self.pos += 1;
        match a.as_str() {
            "-h" | "--help" => Err(ExampleError::Help),
            f if f.starts_with("--") => Ok(Some(f)),
            other => usage_err(format!(
                "unexpected argument '{other}' (options start with --)"
            )),
        }
    }

    /// The value after `flag`, as a string.
    pub fn raw(&mut self, flag: &str) -> Result<&'a str> {
        match self.args.get(self.pos) {
            Some(v) => {
                self.pos += 1;
                Ok(v)
            }
            None => usage_err(format!("{flag} needs a value")),
        }
    }

    /// The value after `flag`, parsed.
    pub fn value<T: FromStr>(&mut self, flag: &str) -> Result<T>
    where
        T::Err: fmt::Display,
    {
        let v = self.raw(flag)?;
        v.parse()
            .map_err(|e| ExampleError::Usage(format!("{flag} {v}: {e}")))
    }

    /// A number after `flag` in `range` (inclusive).
    pub fn in_range<T>(&mut self, flag: &str, lo: T, hi: T) -> Result<T>
    where
        T: FromStr + PartialOrd + fmt::Display + Copy,
        T::Err: fmt::Display,
    {
        let v: T = self.value(flag)?;
        if v < lo || v > hi {
            return usage_err(format!("{flag} {v}: must be between {lo} and {hi}"));
        }
        Ok(v)
    }

    /// Seconds (fractional) after `flag`, positive and at most `max_s`.
    pub fn seconds(&mut self, flag: &str, max_s: f64) -> Result<Duration> {
        let v: f64 = self.value(flag)?;
        if !v.is_finite() || v <= 0.0 || v > max_s {
            return usage_err(format!(
                "{flag} {v}: must be a positive number of seconds, at most {max_s}"
            ));
        }
        Ok(Duration::from_secs_f64(v))
    }

    /// A comma-separated list after `flag`, each item parsed.
    pub fn list<T: FromStr>(&mut self, flag: &str) -> Result<Vec<T>>
    where
        T::Err: fmt::Display,
    {
        let v = self.raw(flag)?;
        v.split(',')
            .map(|item| {
                item.trim()
                    .parse()
                    .map_err(|e| ExampleError::Usage(format!("{flag} {v}: '{item}': {e}")))
            })
            .collect()
    }
}

/// Where and how the real-time part of an example runs: `--priority`, `--cpu`, `--no-mlock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtOpts {
    /// SCHED_FIFO priority 1-99; 0 asks for SCHED_OTHER.
    pub priority: u8,
    /// Pin to this CPU.
    pub cpu: Option<usize>,
    /// Lock memory when running at SCHED_FIFO (`--no-mlock` turns it off).
    pub lock_memory: bool,
}

impl RtOpts {
    /// SCHED_FIFO at `priority`, any CPU, memory locked.
    pub const fn fifo(priority: u8) -> Self {
        RtOpts {
            priority,
            cpu: None,
            lock_memory: true,
        }
    }

    /// Consumes `flag` if it is one of ours; returns whether it was.
    pub fn parse_flag(&mut self, flag: &str, p: &mut Parser<'_>) -> Result<bool> {
        match flag {
            "--priority" => self.priority = p.in_range(flag, 0, 99)?,
            "--cpu" => {
                let cpu: usize = p.value(flag)?;
                let online = evl::core::CpuSet::online()?;
                if !online.contains(cpu) {
                    let list: Vec<String> = online.iter().map(|c| c.to_string()).collect();
                    return usage_err(format!(
                        "--cpu {cpu}: this process may run on CPUs {} only",
                        list.join(",")
                    ));
                }
                self.cpu = Some(cpu);
            }
            "--no-mlock" => self.lock_memory = false,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Usage lines for these options.
    pub const USAGE: &'static str = "  --priority N     SCHED_FIFO priority 1-99, 0 for SCHED_OTHER (default: see above);\n                   \
without the privilege the program says so and runs at SCHED_OTHER\n  \
--cpu N          pin the real-time thread to CPU N\n  \
--no-mlock       do not lock memory (mlockall)\n";
}

/// The arguments after the program name.
pub fn cli_args() -> Vec<String> {
    std::env::args().skip(1).collect()
}

/// The body of every example's `main`: runs `run` on the command line, prints the usage on
/// `--help` (exit 0) or on a usage error (exit 2), any other error on stderr (exit 1).
pub fn main_with<S>(usage: &str, run: impl FnOnce(&[String]) -> Result<S>) -> ExitCode {
    match run(&cli_args()) {
        Ok(_) => ExitCode::SUCCESS,
        Err(ExampleError::Help) => {
            print!("{usage}");
            ExitCode::SUCCESS
        }
        Err(ExampleError::Usage(m)) => {
            eprintln!("error: {m}\n");
            eprint!("{usage}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_values_and_reports_bad_ones() {
        let a = v(&["--n", "5", "--s", "0.5", "--l", "1, 2,5", "--bad", "x"]);
        let mut p = Parser::new(&a);
        assert_eq!(p.next_flag().unwrap(), Some("--n"));
        assert_eq!(p.in_range("--n", 1u32, 10).unwrap(), 5);
        assert_eq!(p.next_flag().unwrap(), Some("--s"));
        assert_eq!(p.seconds("--s", 10.0).unwrap(), Duration::from_millis(500));
        assert_eq!(p.next_flag().unwrap(), Some("--l"));
        assert_eq!(p.list::<u32>("--l").unwrap(), vec![1, 2, 5]);
        assert_eq!(p.next_flag().unwrap(), Some("--bad"));
        let e = p.value::<u32>("--bad").unwrap_err();
        assert!(e.to_string().starts_with("--bad x:"), "{e}");
        assert_eq!(p.next_flag().unwrap(), None);

        let a = v(&["--n"]);
        let mut p = Parser::new(&a);
        p.next_flag().unwrap();
        assert_eq!(p.raw("--n").unwrap_err().to_string(), "--n needs a value");
        let a = v(&["--n", "50"]);
        let mut p = Parser::new(&a);
        p.next_flag().unwrap();
        assert!(p
            .in_range("--n", 1u32, 10)
            .unwrap_err()
            .to_string()
            .contains("between 1 and 10"));
        let a = v(&["--s", "-1"]);
        let mut p = Parser::new(&a);
        p.next_flag().unwrap();
        assert!(p.seconds("--s", 10.0).is_err());
        let a = v(&["stray"]);
        assert!(matches!(
            Parser::new(&a).next_flag(),
            Err(ExampleError::Usage(_))
        ));
        let a = v(&["--help"]);
        assert!(matches!(
            Parser::new(&a).next_flag(),
            Err(ExampleError::Help)
        ));
    }

    #[test]
    fn rt_options() {
        let a = v(&["--priority", "0", "--no-mlock", "--priority", "100"]);
        let mut p = Parser::new(&a);
        let mut o = RtOpts::fifo(80);
        let f = p.next_flag().unwrap().unwrap();
        assert!(o.parse_flag(f, &mut p).unwrap());
        let f = p.next_flag().unwrap().unwrap();
        assert!(o.parse_flag(f, &mut p).unwrap());
        assert_eq!(
            o,
            RtOpts {
                priority: 0,
                cpu: None,
                lock_memory: false
            }
        );
        let f = p.next_flag().unwrap().unwrap();
        assert!(o.parse_flag(f, &mut p).is_err());
        let a = v(&["--cpu", "4096"]);
        let mut p = Parser::new(&a);
        let f = p.next_flag().unwrap().unwrap();
        assert!(o
            .parse_flag(f, &mut p)
            .unwrap_err()
            .to_string()
            .contains("--cpu 4096"));
        assert!(!o.parse_flag("--other", &mut p).unwrap());
    }
}
