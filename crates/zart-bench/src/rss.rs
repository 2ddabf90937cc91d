//! Peak resident memory of this process, from `/proc/self/status`.

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
    fn this_process_has_a_positive_peak_on_linux() {
        if cfg!(target_os = "linux") {
            let mb = peak_rss_mb().unwrap();
            assert!(mb > 0.0, "{mb}");
        }
    }
}
