// libpng 1.6 (Debian: libpng-dev). Only the simplified png_image API is used: it reports errors through
// png_image.message instead of longjmp, which Swift cannot cross.
#include <png.h>
