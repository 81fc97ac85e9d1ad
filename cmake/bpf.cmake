# SPDX-License-Identifier: GPL-2.0-only
# Builds BPF CO-RE objects with clang -target bpf, links several into one object with
# bpftool and generates its skeleton header. vmlinux.h comes from the running kernel's BTF.

find_program(BPF_CLANG NAMES clang clang-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)

set(SONDE_BPF_GEN_DIR ${CMAKE_BINARY_DIR}/bpf)
set(SONDE_VMLINUX_BTF /sys/kernel/btf/vmlinux CACHE FILEPATH "kernel BTF for vmlinux.h")
file(MAKE_DIRECTORY ${SONDE_BPF_GEN_DIR})

add_custom_command(
	OUTPUT ${SONDE_BPF_GEN_DIR}/vmlinux.h
	COMMAND ${BPFTOOL} btf dump file ${SONDE_VMLINUX_BTF} format c > ${SONDE_BPF_GEN_DIR}/vmlinux.h.tmp
	COMMAND ${CMAKE_COMMAND} -E rename ${SONDE_BPF_GEN_DIR}/vmlinux.h.tmp ${SONDE_BPF_GEN_DIR}/vmlinux.h
	COMMENT "Generating vmlinux.h from ${SONDE_VMLINUX_BTF}"
	VERBATIM)

# x86-64 only for now: the socket path reads the syscall's saved registers.
set(SONDE_BPF_CFLAGS -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Wno-unused-function
	-I${SONDE_BPF_GEN_DIR} -I${CMAKE_SOURCE_DIR}/include -I${CMAKE_SOURCE_DIR}/bpf)

# sonde_bpf_skeleton(NAME src.bpf.c...) -> target NAME_skel and ${SONDE_BPF_GEN_DIR}/NAME.skel.h
function(sonde_bpf_skeleton name)
	set(objs)
	file(GLOB bpf_headers ${CMAKE_SOURCE_DIR}/bpf/*.bpf.h ${CMAKE_SOURCE_DIR}/include/*.h)
	foreach(src ${ARGN})
		get_filename_component(base ${src} NAME_WE)
		set(obj ${SONDE_BPF_GEN_DIR}/${base}.bpf.o)
		add_custom_command(
			OUTPUT ${obj}
			COMMAND ${BPF_CLANG} ${SONDE_BPF_CFLAGS} -MD -MF ${obj}.d
				-c ${CMAKE_SOURCE_DIR}/${src} -o ${obj}
			DEPENDS ${CMAKE_SOURCE_DIR}/${src} ${SONDE_BPF_GEN_DIR}/vmlinux.h ${bpf_headers}
			DEPFILE ${obj}.d
			COMMENT "BPF ${src}"
			VERBATIM)
		list(APPEND objs ${obj})
	endforeach()
	set(linked ${SONDE_BPF_GEN_DIR}/${name}.bpf.o)
	set(skel ${SONDE_BPF_GEN_DIR}/${name}.skel.h)
	add_custom_command(
		OUTPUT ${linked} ${skel}
		COMMAND ${BPFTOOL} gen object ${linked} ${objs}
		COMMAND ${BPFTOOL} gen skeleton ${linked} name ${name} > ${skel}.tmp
		COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
		DEPENDS ${objs}
		COMMENT "Linking BPF object and skeleton ${name}"
		VERBATIM)
	add_custom_target(${name}_skel DEPENDS ${skel})
endfunction()
