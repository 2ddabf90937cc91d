//! zart-postgres (under construction).
