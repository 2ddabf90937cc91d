//! zart (under construction).
