//! zart-bench (under construction).
