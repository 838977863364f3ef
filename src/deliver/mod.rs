//! How a run's plan reaches Moodle: upload files an administrator imports (`files`),
//! or the REST web services (`webservice`), fed the same plan by the same pipeline.

pub mod files;
pub mod webservice;
