//! Peak resident memory of this process, from `/proc/self/status`, and its CPU time,
//! from `/proc/self/stat`.

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`, 100 on Linux).
const USER_HZ: f64 = 100.0;

/// The CPU time (user and system, every thread) this process has used so far, in
/// seconds, at a resolution of 10 ms; `None` where `/proc` is unavailable.
pub fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_cpu_ticks(&stat).map(|ticks| ticks as f64 / USER_HZ)
}

/// `utime + stime` of a `/proc/<pid>/stat` line, in clock ticks. The command name
/// (field 2, in parentheses) may hold spaces, so fields are counted after its `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The peak resident set size (`VmHWM`) of this process in MiB, or `None` where
/// `/proc` is unavailable (not Linux).
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm_kib(&status).map(|kib| kib as f64 / 1024.0)
}

/// The `VmHWM` line of a `/proc/<pid>/status` text, in KiB.
fn parse_vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut fields = line["VmHWM:".len()..].split_whitespace();
    let value = fields.next()?.parse().ok()?;
    match fields.next() {
        Some("kB") | None => Some(value),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_is_read_in_kib() {
        let status =
            "Name:\tzart-bench\nVmPeak:\t  900000 kB\nVmHWM:\t   20480 kB\nVmRSS:\t 10 kB\n";
        assert_eq!(parse_vm_hwm_kib(status), Some(20480));
        assert_eq!(parse_vm_hwm_kib("VmRSS:\t10 kB\n"), None);
        assert_eq!(parse_vm_hwm_kib("VmHWM:\tlots kB\n"), None);
    }

    #[test]
    fn cpu_ticks_are_utime_plus_stime_after_the_command_name() {
        let stat = "42 (zart bench) S 1 42 42 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 6 0";
        assert_eq!(parse_cpu_ticks(stat), Some(280));
        assert_eq!(parse_cpu_ticks("42 (x) S 1"), None);
    }

    #[test]
    fn this_process_has_a_positive_peak_on_linux() {
        if cfg!(target_os = "linux") {
            let mb = peak_rss_mb().unwrap();
            assert!(mb > 0.0, "{mb}");
        }
    }
}
