#include "tfst-frame.h"

static void
test_header_roundtrip(void)
{
  guint8 buf[TFST_FRAME_HEADER_SIZE];
  TfstFrameHeader h;

  tfst_frame_header_encode(buf, TFST_FRAME_DATA, 7, 100);
  g_assert_cmpint(tfst_frame_header_decode(buf, sizeof(buf), &h), ==, TFST_FRAME_OK);
  g_assert_cmpuint(h.type, ==, TFST_FRAME_DATA);
  g_assert_cmpuint(h.session, ==, 7);
  g_assert_cmpuint(h.length, ==, 100);
}

int
main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/tfst/frame/header-roundtrip", test_header_roundtrip);
  return g_test_run();
}
