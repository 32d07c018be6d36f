// PNG through libpng's simplified API (it keeps its own setjmp inside libpng), JPEG through
// libjpeg-turbo with an error manager whose setjmp lives in each call below.
#include "CImage.h"
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

static int fail(char *error, size_t error_size, const char *message) {
    if (error_size > 0) snprintf(error, error_size, "%s", message);
    return -1;
}

static int size_ok(size_t height, size_t width) {
    return height > 0 && width > 0 && height * width <= CI_MAX_PIXELS;
}

// MARK: - PNG

static int decode_png(unsigned char **pixels, int *height, int *width, int *channels,
                      const unsigned char *data, size_t size, char *error, size_t error_size) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, data, size)) {
        fail(error, error_size, img.message);
        png_image_free(&img);
        return -1;
    }
    if (!size_ok(img.height, img.width)) {
        png_image_free(&img);
        return fail(error, error_size, "image size out of range");
    }
    int c = (img.format & PNG_FORMAT_FLAG_COLOR) ? 3 : 1;
    img.format = c == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    unsigned char *buf = malloc(PNG_IMAGE_SIZE(img));
    if (!buf) {
        png_image_free(&img);
        return fail(error, error_size, "out of memory");
    }
    png_color black = {0, 0, 0}; // alpha is composited onto it
    if (!png_image_finish_read(&img, &black, buf, 0, NULL)) {
        fail(error, error_size, img.message);
        png_image_free(&img);
        free(buf);
        return -1;
    }
    *pixels = buf;
    *height = (int)img.height;
    *width = (int)img.width;
    *channels = c;
    return 0;
}

int ci_encode_png(unsigned char **bytes, size_t *size,
                  const unsigned char *pixels, int height, int width, int channels, char *error, size_t error_size) {
    if ((channels != 1 && channels != 3) || !size_ok((size_t)height, (size_t)width))
        return fail(error, error_size, "PNG: needs 1 or 3 channels and a positive size");
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)width;
    img.height = (png_uint_32)height;
    img.format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    png_alloc_size_t n = 0;
    if (!png_image_write_to_memory(&img, NULL, &n, 0, pixels, 0, NULL)) {
        fail(error, error_size, img.message);
        png_image_free(&img);
        return -1;
    }
    unsigned char *buf = malloc(n);
    if (!buf) return fail(error, error_size, "out of memory");
    if (!png_image_write_to_memory(&img, buf, &n, 0, pixels, 0, NULL)) {
        fail(error, error_size, img.message);
        png_image_free(&img);
        free(buf);
        return -1;
    }
    *bytes = buf;
    *size = n;
    return 0;
}

// MARK: - JPEG

struct ci_jpeg_error {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char *error;
    size_t error_size;
};

static void jpeg_fail(j_common_ptr cinfo) {
    struct ci_jpeg_error *e = (struct ci_jpeg_error *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    fail(e->error, e->error_size, text);
    longjmp(e->jump, 1);
}

// Level -1 is a warning ("Premature end of JPEG file", bad data): libjpeg would fill the rest of
// the image with grey and go on; a corrupt sample must not train silently, so it is an error.
// Trace messages (levels ≥ 0) are dropped instead of printed.
static void jpeg_message(j_common_ptr cinfo, int level) {
    if (level < 0) jpeg_fail(cinfo);
}

static void jpeg_errors(struct ci_jpeg_error *e, char *error, size_t error_size) {
    jpeg_std_error(&e->mgr);
    e->mgr.error_exit = jpeg_fail;
    e->mgr.emit_message = jpeg_message;
    e->error = error;
    e->error_size = error_size;
}

static int decode_jpeg(unsigned char **pixels, int *height, int *width, int *channels,
                       const unsigned char *data, size_t size, char *error, size_t error_size) {
    struct jpeg_decompress_struct cinfo;
    struct ci_jpeg_error e;
    unsigned char *volatile buf = NULL; // volatile: read after a longjmp
    jpeg_errors(&e, error, error_size);
    cinfo.err = &e.mgr;
    if (setjmp(e.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(buf);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.num_components == 1) {
        cinfo.out_color_space = JCS_GRAYSCALE;
    } else if (cinfo.jpeg_color_space == JCS_YCbCr || cinfo.jpeg_color_space == JCS_RGB) {
        cinfo.out_color_space = JCS_RGB;
    } else {
        jpeg_destroy_decompress(&cinfo);
        return fail(error, error_size, "JPEG: only greyscale and RGB (not CMYK) images are read");
    }
    if (!size_ok(cinfo.image_height, cinfo.image_width)) {
        jpeg_destroy_decompress(&cinfo);
        return fail(error, error_size, "image size out of range");
    }
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    buf = malloc(stride * cinfo.output_height);
    if (!buf) {
        jpeg_destroy_decompress(&cinfo);
        return fail(error, error_size, "out of memory");
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = buf + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    *pixels = buf;
    *height = (int)cinfo.output_height;
    *width = (int)cinfo.output_width;
    *channels = cinfo.output_components;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

int ci_encode_jpeg(unsigned char **bytes, size_t *size,
                   const unsigned char *pixels, int height, int width, int channels, int quality,
                   char *error, size_t error_size) {
    if ((channels != 1 && channels != 3) || !size_ok((size_t)height, (size_t)width))
        return fail(error, error_size, "JPEG: needs 1 or 3 channels and a positive size");
    struct jpeg_compress_struct cinfo;
    struct ci_jpeg_error e;
    unsigned char *volatile out = NULL;
    unsigned long n = 0;
    jpeg_errors(&e, error, error_size);
    cinfo.err = &e.mgr;
    if (setjmp(e.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(out);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, (unsigned char **)&out, &n);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    size_t stride = (size_t)width * (size_t)channels;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + stride * cinfo.next_scanline);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *bytes = out;
    *size = n;
    return 0;
}

// MARK: - Either

int ci_decode(unsigned char **pixels, int *height, int *width, int *channels,
              const unsigned char *data, size_t size, char *error, size_t error_size) {
    static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (size >= 8 && memcmp(data, png_magic, 8) == 0)
        return decode_png(pixels, height, width, channels, data, size, error, error_size);
    if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        return decode_jpeg(pixels, height, width, channels, data, size, error, error_size);
    return fail(error, error_size, "neither a PNG nor a JPEG file (unknown signature)");
}

void ci_free(void *p) { free(p); }
