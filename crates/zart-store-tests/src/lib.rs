//! zart-store-tests (under construction).
