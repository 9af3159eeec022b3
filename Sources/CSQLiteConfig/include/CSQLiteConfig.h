#ifndef PIPETOP_CSQLITECONFIG_H
#define PIPETOP_CSQLITECONFIG_H

/// Turns off SQLite's memory statistics (SQLITE_CONFIG_MEMSTATUS) for the process. With them on,
/// every allocation SQLite makes takes and releases a global mutex; off, the writer runs about 7 %
/// fewer instructions per event (callgrind, on a C model of the tick's statements). It is process-wide: for every SQLite
/// user in the process, `sqlite3_memory_used()`, `sqlite3_status64()` and the soft and hard heap
/// limits stop working. pipetop uses none of them; a host application that embeds PipetopCore
/// and needs them must initialise SQLite before opening a pipetop store (the call then fails
/// harmlessly). Must run before SQLite initialises; later it is a no-op that returns
/// SQLITE_MISUSE (21). `sqlite3_config` is variadic, which Swift cannot call: hence C.
int pipetop_sqlite_disable_memstatus(void);

#endif
