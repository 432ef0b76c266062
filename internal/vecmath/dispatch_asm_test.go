//go:build gc && !purego && (amd64 || arm64)

package vecmath

import (
	"reflect"
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

// tableFamily is the family a kernel table runs under cpufeat.Selected:
// that family where the table has its assembly, else Generic.
func tableFamily[K ~[numImpls]F, F any](k *K) func(int) cpufeat.Impl {
	return func(int) cpufeat.Impl {
		if !reflect.ValueOf((*k)[cpufeat.Selected]).IsNil() {
			return cpufeat.Selected
		}
		return cpufeat.Generic
	}
}

// TestDispatch fails when a kernel table has no assembly for the family
// this CPU should run (or for a family Use forces), so that its exported
// function would fall back to the generic code; the reductions follow
// cpufeat.Selected directly.
func TestDispatch(t *testing.T) {
	kerneltest.CheckDispatch(t,
		kerneltest.Dispatch{Kernel: "Exp", Family: tableFamily(&expK)},
		kerneltest.Dispatch{Kernel: "Erf", Family: tableFamily(&erfK)},
		kerneltest.Dispatch{Kernel: "Tanh", Family: tableFamily(&tanhK)},
		kerneltest.Dispatch{Kernel: "Sigmoid", Family: tableFamily(&sigmoidK)},
		kerneltest.Dispatch{Kernel: "SiLU", Family: tableFamily(&siluK)},
		kerneltest.Dispatch{Kernel: "Gelu", Family: tableFamily(&geluK)},
		kerneltest.Dispatch{Kernel: "GeluTanh", Family: tableFamily(&geluTanhK)},
		kerneltest.Dispatch{Kernel: "GeluFast", Family: tableFamily(&geluFastK)},
		kerneltest.Dispatch{Kernel: "Add", Family: tableFamily(&addK)},
		kerneltest.Dispatch{Kernel: "Sub", Family: tableFamily(&subK)},
		kerneltest.Dispatch{Kernel: "Mul", Family: tableFamily(&mulK)},
		kerneltest.Dispatch{Kernel: "Div", Family: tableFamily(&divK)},
		kerneltest.Dispatch{Kernel: "AddScalar", Family: tableFamily(&addScalarK)},
		kerneltest.Dispatch{Kernel: "SubScalar", Family: tableFamily(&subScalarK)},
		kerneltest.Dispatch{Kernel: "ScalarSub", Family: tableFamily(&scalarSubK)},
		kerneltest.Dispatch{Kernel: "MulScalar", Family: tableFamily(&mulScalarK)},
		kerneltest.Dispatch{Kernel: "DivScalar", Family: tableFamily(&divScalarK)},
		kerneltest.Dispatch{Kernel: "ScalarDiv", Family: tableFamily(&scalarDivK)},
		kerneltest.Dispatch{Kernel: "LayerNorm", Family: tableFamily(&normK)})
}
