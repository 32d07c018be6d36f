// PNG and JPEG in memory through Debian's libpng and libjpeg-turbo, behind four calls that never
// longjmp into the caller: both libraries report errors by longjmp, which must not cross a Swift
// frame, so every setjmp lives in image.c and each call returns 0 on success or -1 with a message.
// Memory: *pixels and *bytes are malloc'd here and released with ci_free; the caller owns the inputs.
// Pixels are 8-bit, rows top to bottom, channels interleaved (HWC), 1 (grey) or 3 (RGB) channels.
#ifndef CIMAGE_H
#define CIMAGE_H
#include <stddef.h>

/// The largest image decoded (height × width): beyond it a header is taken as corrupt, so a few
/// bytes cannot ask for gigabytes.
#define CI_MAX_PIXELS ((size_t)1 << 26)

/// Decodes a PNG or JPEG (told apart by their signatures). Alpha is dropped (composited on black),
/// palettes expanded, 16-bit samples reduced to 8; any libjpeg warning (a truncated file) is an error.
int ci_decode(unsigned char **pixels, int *height, int *width, int *channels,
              const unsigned char *data, size_t size, char *error, size_t error_size);

/// Encodes 8-bit grey (channels 1) or RGB (3) pixels as PNG, or as JPEG of `quality` 1-100.
int ci_encode_png(unsigned char **bytes, size_t *size,
                  const unsigned char *pixels, int height, int width, int channels, char *error, size_t error_size);
int ci_encode_jpeg(unsigned char **bytes, size_t *size,
                   const unsigned char *pixels, int height, int width, int channels, int quality,
                   char *error, size_t error_size);

void ci_free(void *p);
#endif
