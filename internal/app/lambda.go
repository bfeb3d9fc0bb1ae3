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
	h := make(http.Header, len(req.Headers))
	for k, v := range req.Headers {
		h.Set(k, v) // canonicalises: API Gateway lower-cases header names
	}
	body := []byte(req.Body)
	var resp Response
	if req.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(req.Body)
		if err != nil {
			resp = Response{http.StatusBadRequest, Answer{Result: "refused", Reason: "body is not valid base64"}}
			return httpAPIResponse(resp), nil
		}
		body = b
	}
	resp = a.Webhook(ctx, h, body)
	return httpAPIResponse(resp), nil
}

func httpAPIResponse(r Response) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: r.Status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(r.JSON()),
	}
}
