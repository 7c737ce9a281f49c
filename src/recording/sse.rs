//! (being written for the recording issue)
