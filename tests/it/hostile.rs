//! Issue 5: hostile registries and packages.
