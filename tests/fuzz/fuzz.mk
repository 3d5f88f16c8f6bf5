# Builds the libFuzzer targets of tests/fuzz; driven by scripts/fuzz:
#
#   make -f $(top)/tests/fuzz/fuzz.mk -C build-fuzz top=$(top) fuzz_uri ...
#
# The project's sources are compiled directly with clang, instrumented for
# libFuzzer (coverage) and ASan + UBSan, into one archive that each target
# links; the linker takes only the objects a target uses. Not automake:
# the fuzz build needs clang and its own flags, and must not disturb the
# autotools build of the same tree. Named fuzz.mk, not Makefile, because
# .gitignore ignores every Makefile.

CC = clang
PKGS = fuse3 libcurl libcrypto expat
SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
WARN = -Wall -Wextra -Wmissing-prototypes -Wwrite-strings -Wshadow \
	-Wno-unused-parameter
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS))
CPPFLAGS = -include config.h -I$(top)/src -I$(top)/tests/fuzz \
	-DETAGFS_TOP_SRCDIR='"$(top)"'
CFLAGS = -g -O1 $(WARN) $(SAN) $(PKG_CFLAGS)

# Everything but main.c, as libetagfs.a in Makefile.am.
SRCS := $(filter-out src/main.c, \
	$(patsubst $(top)/%,%,$(wildcard $(top)/src/*/*.c)))
OBJS := $(SRCS:%.c=obj/%.o)
TARGETS := $(notdir $(basename $(wildcard $(top)/tests/fuzz/fuzz_*.c)))

all: $(TARGETS)

# Other people's warnings are the gcc -Werror build's business; the
# harnesses themselves must be clean.
obj/%.o: $(top)/%.c config.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP \
		-c -o $@ $<

libetagfs-fuzz.a: $(OBJS)
	rm -f $@
	ar rcs $@ $(OBJS)

$(TARGETS): %: $(top)/tests/fuzz/%.c $(top)/tests/fuzz/fuzz.h \
		libetagfs-fuzz.a config.h
	$(CC) $(CPPFLAGS) $(CFLAGS) -Werror -fsanitize=fuzzer -MMD -MP \
		-MF $@.d -o $@ $< libetagfs-fuzz.a $(PKG_LIBS)

-include $(OBJS:.o=.d) $(TARGETS:%=%.d)

.PHONY: all
