package localrun

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/streamproc/streamproc/internal/localesm"
)

// lambdaAPI serves the Lambda Invoke API (synchronous RequestResponse only)
// for the local function, backed by the RIE pool, so streamctl redrive can
// invoke "the function" with the AWS SDK exactly as it does in the cloud
// (AWS_ENDPOINT_URL_LAMBDA). Unlike the bare RIE it reports a function error
// the way Lambda does: status 200 with X-Amz-Function-Error: Unhandled.
// https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
type lambdaAPI struct {
	URL string
	srv *http.Server
}

func startLambdaAPI(inv localesm.Invoker, functionName string) (*lambdaAPI, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &lambdaAPI{URL: "http://" + l.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if i := strings.LastIndex(name, ":function:"); i >= 0 { // an ARN
			name = name[i+len(":function:"):]
		}
		name, _, _ = strings.Cut(name, ":") // drop a qualifier
		if name != functionName {
			lambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+r.PathValue("name"))
			return
		}
		if t := r.Header.Get("X-Amz-Invocation-Type"); t != "" && t != "RequestResponse" {
			lambdaError(w, http.StatusBadRequest, "InvalidParameterValueException", "only RequestResponse invocations are supported locally")
			return
		}
		payload, err := io.ReadAll(r.Body)
		if err != nil {
			lambdaError(w, http.StatusBadRequest, "InvalidRequestContentException", err.Error())
			return
		}
		body, err := inv.Invoke(r.Context(), payload)
		var fe *localesm.FunctionError
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
		w.Header().Set("Content-Type", "application/json")
		switch {
		case err == nil:
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(body)
		case errors.As(err, &fe):
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			w.WriteHeader(http.StatusOK)
			b, _ := jsonMarshal(map[string]string{"errorType": fe.Type, "errorMessage": fe.Message})
			_, _ = w.Write(b)
		default:
			lambdaError(w, http.StatusInternalServerError, "ServiceException", err.Error())
		}
	})
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = a.srv.Serve(l) }()
	return a, nil
}

func lambdaError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	b, _ := jsonMarshal(map[string]string{"Type": "User", "message": msg})
	_, _ = w.Write(b)
}

func (a *lambdaAPI) close() { _ = a.srv.Close() }
