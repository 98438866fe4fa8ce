// System headers that Glibc's Swift module does not export: epoll, for the event loop.
#ifndef SENSORSTREAM_CSYSTEMSHIMS_H
#define SENSORSTREAM_CSYSTEMSHIMS_H
#ifdef __linux__
#include <sys/epoll.h>
#endif
#endif
