// Swagger UI over the OpenAPI document whose address the page carries.
window.ui = SwaggerUIBundle({url: document.body.dataset.documentUrl, dom_id: "#swagger-ui"});
