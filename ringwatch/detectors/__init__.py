"""Pure, seeded detection functions over a `Snapshot`: no I/O, same input -> same output."""
