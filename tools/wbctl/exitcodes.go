package main

// exitCodesHelp documents the exit codes of app.go in "wbctl --help". They
// are stable: scripts depend on them.
const exitCodesHelp = `Exit codes (stable, for scripts):
   0  success
   1  error (the module is not loaded, no such watch, an I/O error, ...)
   2  bad command line
   3  rescan required: the changes asked for are not all known (an epoch
      lost records, or is not sealed in the log); rescan the filesystem`
