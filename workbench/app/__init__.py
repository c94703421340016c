"""The application layer: what drives the library (commands, run configuration, run
directories, training, jobs, reports). It may import the library (`workbench.*` outside
`workbench.app`); nothing in the library imports it."""
