#include <sybfront.h>
#include <sybdb.h>
