package server

import (
	"math"
	"math/big"
)

// Correctly rounded sin, cos and asin for the geo distances. Redis calls
// glibc's libm, whose results are (almost always) the correctly rounded
// ones; Go's math package is up to an ulp off in a fair share of cases,
// which shows in the last digits of STOREDIST scores and can flip a point
// on a search's edge. These evaluate in double-double arithmetic and round
// once; arguments outside the reduced range fall back to package math.

type dd struct{ hi, lo float64 }

func ddTwoSum(a, b float64) dd {
	s := a + b
	bb := s - a
	return dd{s, (a - (s - bb)) + (b - bb)}
}

func ddQuick(a, b float64) dd {
	s := a + b
	return dd{s, b - (s - a)}
}

func ddAdd(a, b dd) dd {
	s := ddTwoSum(a.hi, b.hi)
	t := ddTwoSum(a.lo, b.lo)
	s.lo += t.hi
	s = ddQuick(s.hi, s.lo)
	s.lo += t.lo
	return ddQuick(s.hi, s.lo)
}

func ddMul(a, b dd) dd {
	p := a.hi * b.hi
	e := math.FMA(a.hi, b.hi, -p)
	e += a.hi*b.lo + a.lo*b.hi
	return ddQuick(p, e)
}

func ddMulF(a dd, b float64) dd {
	p := a.hi * b
	e := math.FMA(a.hi, b, -p)
	e += a.lo * b
	return ddQuick(p, e)
}

func ddNeg(a dd) dd { return dd{-a.hi, -a.lo} }

func ddFromBig(f *big.Float) dd {
	hi, _ := f.Float64()
	r := new(big.Float).SetPrec(300).Sub(f, new(big.Float).SetFloat64(hi))
	lo, _ := r.Float64()
	return dd{hi, lo}
}

var (
	// ddSinC[k] = (-1)^k/(2k+1)!, ddCosC[k] = (-1)^k/(2k)!
	ddSinC, ddCosC [16]dd
	ddPio2         [3]float64 // pi/2 as a sum of three doubles
	ddPio2DD       dd
)

func init() {
	fact := new(big.Float).SetPrec(300).SetInt64(1)
	for n := 0; n < 32; n++ {
		if n > 0 {
			fact.Mul(fact, new(big.Float).SetPrec(300).SetInt64(int64(n)))
		}
		c := new(big.Float).SetPrec(300).Quo(new(big.Float).SetPrec(300).SetInt64(1), fact)
		if (n/2)%2 == 1 {
			c.Neg(c)
		}
		if n%2 == 0 {
			ddCosC[n/2] = ddFromBig(c)
		} else {
			ddSinC[n/2] = ddFromBig(c)
		}
	}
	// pi/2 to 300 bits
	pi, _ := new(big.Float).SetPrec(300).SetString("3.14159265358979323846264338327950288419716939937510582097494459230781640628620899862803482534211706798214808651328230664709384460955058223172535940812848111745028410270193852110555964462294895493038196")
	p := new(big.Float).SetPrec(300).Quo(pi, big.NewFloat(2))
	for i := 0; i < 3; i++ {
		v, _ := p.Float64()
		ddPio2[i] = v
		p.Sub(p, new(big.Float).SetFloat64(v))
	}
	ddPio2DD = ddQuick(ddPio2[0], ddPio2[1])
}

// ddPoly evaluates sum c[k] * x2^k (Horner) in double-double.
func ddPoly(c *[16]dd, x2 dd) dd {
	r := c[15]
	for k := 14; k >= 0; k-- {
		r = ddAdd(ddMul(r, x2), c[k])
	}
	return r
}

func ddSinSmall(r dd) dd { return ddMul(r, ddPoly(&ddSinC, ddMul(r, r))) }
func ddCosSmall(r dd) dd { return ddPoly(&ddCosC, ddMul(r, r)) }

// ddReduce returns r = x - k*pi/2 (|r| <= ~pi/4) and k mod 4.
func ddReduce(x float64) (dd, int) {
	k := math.RoundToEven(x / ddPio2[0])
	r := dd{x, 0}
	for i := 0; i < 3; i++ {
		p := k * ddPio2[i]
		e := math.FMA(k, ddPio2[i], -p)
		r = ddAdd(r, dd{-p, -e})
	}
	return r, int(int64(k) & 3)
}

const geoMathMax = 1 << 20

func ddSin(x float64) dd {
	r, q := ddReduce(x)
	switch q {
	case 0:
		return ddSinSmall(r)
	case 1:
		return ddCosSmall(r)
	case 2:
		return ddNeg(ddSinSmall(r))
	}
	return ddNeg(ddCosSmall(r))
}

func ddCos(x float64) dd {
	r, q := ddReduce(x)
	switch q {
	case 0:
		return ddCosSmall(r)
	case 1:
		return ddNeg(ddSinSmall(r))
	case 2:
		return ddNeg(ddCosSmall(r))
	}
	return ddSinSmall(r)
}

func geoSin(x float64) float64 {
	if !(math.Abs(x) < geoMathMax) || x == 0 || math.Abs(x) < 1e-150 {
		return math.Sin(x)
	}
	r := ddSin(x)
	return r.hi + r.lo
}

func geoCos(x float64) float64 {
	if !(math.Abs(x) < geoMathMax) || math.Abs(x) < 1e-150 {
		return math.Cos(x)
	}
	r := ddCos(x)
	return r.hi + r.lo
}

// ddAsinSmall is asin of z (|z| <= ~0.5, in double-double) by one Newton
// step from math.Asin.
func ddAsinSmall(z dd) dd {
	t0 := math.Asin(z.hi)
	s := ddSin(t0)
	d := ddAdd(z, ddNeg(s))
	c := math.Cos(t0)
	return ddTwoSum(t0, (d.hi+d.lo)/c)
}

func geoAsin(y float64) float64 {
	a := math.Abs(y)
	if !(a <= 1) || a < 1e-150 {
		return math.Asin(y)
	}
	var r dd
	if a <= 0.5 {
		r = ddAsinSmall(dd{a, 0})
	} else {
		// asin(a) = pi/2 - 2*asin(sqrt((1-a)/2))
		w := (1 - a) / 2
		zh := math.Sqrt(w)
		var z dd
		if zh == 0 {
			z = dd{0, 0}
		} else {
			p := zh * zh
			e := math.FMA(zh, zh, -p)
			z = ddQuick(zh, ((w-p)-e)/(2*zh))
		}
		t := ddAsinSmall(z)
		r = ddAdd(ddPio2DD, ddNeg(ddMulF(t, 2)))
	}
	v := r.hi + r.lo
	if y < 0 {
		return -v
	}
	return v
}
