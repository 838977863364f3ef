//! How a run's plan reaches Moodle. Today one channel, upload files (`files`); a
//! channel that applies the plan through Moodle's web services would be one more
//! module here, fed the same plan by the same pipeline.

pub mod files;
