// zlib, for WebSocket permessage-deflate (RFC 7692). Part of every system Foundation runs on.
#ifndef SENSORSTREAM_CZLIB_H
#define SENSORSTREAM_CZLIB_H
#include <zlib.h>
#endif
