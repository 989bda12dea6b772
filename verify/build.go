package verify

import (
	"slices"
	"time"
)

// build is OpenSSL's build_chain with its default flags (trusted first,
// no partial chains, no DANE). It grows the chain from target upwards:
// at each step it looks for the issuer of the top certificate in the
// trust set first, then among the untrusted certificates. Once a trusted
// certificate is in the chain only the trust set is searched. The chain
// is trusted when a trusted certificate that is self-signed reaches the
// top; otherwise build returns the code OpenSSL reports for the top
// certificate, which is the last of the chain.
func build(target *cert, untrusted []*cert, trust *Trust, now time.Time, checkTime bool) ([]*cert, Code) {
	chain := []*cert{target}
	numUntrusted := 1
	pool := slices.Clone(untrusted)
	searchTrusted, searchUntrusted := true, len(pool) > 0
	for searchTrusted || searchUntrusted {
		num := len(chain)
		if searchTrusted {
			top := chain[num-1]
			var issuer *cert
			if num <= maxDepth {
				issuer = trust.issuerOf(top, now, checkTime)
			}
			if issuer != nil {
				ok, from := true, num
				selfSigned := top.selfSigned
				switch {
				case !selfSigned:
					chain = append(chain, issuer)
					selfSigned = issuer.selfSigned
				case !top.Certificate.Equal(issuer.Certificate):
					ok = false // a self-signed look-alike of a trusted root
				default:
					// The untrusted self-signed top is the trusted one.
					numUntrusted--
					from = num - 1
					chain[from] = issuer
				}
				if ok {
					searchUntrusted = false
					// A trusted certificate is an anchor when it is
					// self-signed (X509_check_trust without auxiliary
					// trust settings, and no partial chains).
					for _, x := range chain[from:] {
						if x.selfSigned {
							return chain, 0
						}
					}
					if !selfSigned {
						continue
					}
				}
			}
			if !searchUntrusted {
				break // trusted first: there is no alternative chain to try
			}
		}
		if searchUntrusted {
			top := chain[len(chain)-1]
			var issuer *cert
			if !top.selfSigned && len(chain) <= maxDepth {
				issuer = bestIssuer(pool, top, now, checkTime, chain)
			}
			if issuer == nil {
				searchUntrusted, searchTrusted = false, true
				continue
			}
			pool = slices.DeleteFunc(pool, func(x *cert) bool { return x == issuer })
			chain = append(chain, issuer)
			numUntrusted++
		}
	}
	num := len(chain)
	top := chain[num-1]
	switch {
	case num > maxDepth:
		return chain, CertChainTooLong
	case top.selfSigned && num == 1:
		return chain, DepthZeroSelfSignedCert
	case top.selfSigned:
		return chain, SelfSignedCertInChain
	case numUntrusted < num:
		return chain, UnableToGetIssuerCert
	}
	return chain, UnableToGetIssuerCertLocally
}
