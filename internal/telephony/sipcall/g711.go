package sipcall

// G.711 (ITU-T Recommendation G.711, 1988) companding of 16-bit linear PCM at
// 8 kHz. The encoders follow the reference implementation of ITU-T G.191
// (Software Tool Library, g711.c): μ-law works on 14-bit magnitudes with a
// bias of 33 (here scaled to 16 bits: 132), A-law on 13-bit magnitudes with
// even bits inverted (XOR 0x55).

const ulawBias = 0x84 // 132: the bias of μ-law, scaled to 16-bit input
const ulawClip = 32635

// ULawEncode compresses one 16-bit linear sample to μ-law.
func ULawEncode(sample int16) byte {
	s := int(sample)
	sign := 0
	if s < 0 {
		s = -s
		sign = 0x80
	}
	if s > ulawClip {
		s = ulawClip
	}
	s += ulawBias
	exp := 7
	for mask := 0x4000; s&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (s >> (exp + 3)) & 0x0f
	return ^byte(sign | exp<<4 | mant)
}

// ULawDecode expands one μ-law byte to 16-bit linear PCM.
func ULawDecode(b byte) int16 {
	u := ^b
	exp := int(u>>4) & 0x07
	mant := int(u & 0x0f)
	s := ((mant << 3) + ulawBias) << exp
	s -= ulawBias
	if u&0x80 != 0 {
		return int16(-s)
	}
	return int16(s)
}

// ALawEncode compresses one 16-bit linear sample to A-law.
func ALawEncode(sample int16) byte {
	s := int(sample) >> 3 // A-law works on 13 bits
	sign := 0x80
	if s < 0 {
		s = -s - 1
		sign = 0
	}
	var b int
	switch {
	case s < 32:
		b = s >> 1
	default:
		exp := 1
		for v := s >> 5; v > 1 && exp < 7; v >>= 1 {
			exp++
		}
		if s >= 4096 {
			b = 0x7f
		} else {
			b = exp<<4 | (s>>exp)&0x0f
		}
	}
	return byte(sign|b) ^ 0x55
}

// ALawDecode expands one A-law byte to 16-bit linear PCM.
func ALawDecode(b byte) int16 {
	a := int(b ^ 0x55)
	exp := (a >> 4) & 0x07
	mant := a & 0x0f
	var s int
	if exp == 0 {
		s = mant<<4 + 8
	} else {
		s = (mant<<4 + 0x108) << (exp - 1)
	}
	if a&0x80 == 0 {
		return int16(-s)
	}
	return int16(s)
}
