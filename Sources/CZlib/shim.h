// zlib (Debian: zlib1g-dev): gzip inflate for the shipped digits and .gz IDX files.
#include <zlib.h>
