//! zart-cli (under construction).
