package app

import (
	"context"
	"encoding/base64"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
)

// WebhookHTTPAPI adapts an API Gateway HTTP API (payload 2.0) or Lambda function
// URL event to Webhook. Both carry the same fields, so one type serves both. The
// same API also serves the status badges (GET /badges/<service>.svg, see Badge);
// every other request is a webhook delivery.
func (a *App) WebhookHTTPAPI(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if isBadgeRequest(req) {
		return a.badgeHTTPAPI(ctx, req), nil
	}
	h, body, err := HTTPAPIDelivery(req)
	if err != nil {
		return httpAPIResponse(Response{http.StatusBadRequest, Answer{Result: "refused", Reason: "body is not valid base64"}}), nil
	}
	return httpAPIResponse(a.Webhook(ctx, h, body)), nil
}

// HTTPAPIDelivery is the delivery an API Gateway HTTP API (payload 2.0) or function
// URL event carries: its headers under their canonical names (API Gateway
// lower-cases them; a header is looked up whatever its case), and its body,
// decoded when API Gateway base64-encoded it. The error is the decoding's.
func HTTPAPIDelivery(req events.APIGatewayV2HTTPRequest) (http.Header, []byte, error) {
	h := make(http.Header, len(req.Headers))
	for k, v := range req.Headers {
		h.Set(k, v)
	}
	if !req.IsBase64Encoded {
		return h, []byte(req.Body), nil
	}
	body, err := base64.StdEncoding.DecodeString(req.Body)
	if err != nil {
		return nil, nil, err
	}
	return h, body, nil
}

func httpAPIResponse(r Response) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: r.Status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(r.JSON()),
	}
}
