package server

import "hash/crc64"

// crc64Jones is Redis's crc64 (crc64.c): the Jones polynomial
// 0xad93d23594c935a9, reflected input and output, initial value 0 and no
// final xor (crc64("123456789") = 0xe9c6d914c4b8d9ca). Go's hash/crc64
// takes the reversed polynomial but inverts before and after, so only its
// table is used.
var crc64JonesTable = crc64.MakeTable(0x95ac9329ac4bc9b5)

func crc64Jones(crc uint64, p []byte) uint64 {
	t := crc64JonesTable
	for _, b := range p {
		crc = t[byte(crc)^b] ^ crc>>8
	}
	return crc
}
