"""The test pipeline: scenarios against the real-estate assistant, graded, with integration metrics."""
