// cmark-gfm and its GFM extensions (tables, strikethrough, autolinks, task lists); footnotes are a core option.
#include <cmark-gfm.h>
#include <cmark-gfm-core-extensions.h>
