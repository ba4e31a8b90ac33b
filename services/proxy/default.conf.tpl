# nginx site config; the image's entrypoint renders it at start (the Dockerfile
# says where), replacing only the dollar-brace variables (LISTEN_PORT, APP_ADDRESS, KEEPALIVE_TIMEOUT,
# CLIENT_MAX_BODY_SIZE, NGINX_LOCAL_RESOLVERS). Plain $variables are nginx's own.

# The app's address is looked up per request (see uwsgi_pass below), so a
# recreated app container is found again without restarting nginx. Kept 2s: a
# replica a rolling update stopped gets requests until its address expires here
# (Docker's DNS is local, a lookup costs next to nothing).
resolver ${NGINX_LOCAL_RESOLVERS} valid=2s ipv6=off;

# Security headers (security_headers.conf): nginx's value unless the app sent
# its own; an empty value makes add_header send nothing.
map $upstream_http_x_content_type_options $security_content_type_options {
    ""      "nosniff";
    default "";
}
map $upstream_http_x_frame_options $security_frame_options {
    ""      "DENY";
    default "";
}
map $upstream_http_referrer_policy $security_referrer_policy {
    ""      "same-origin";
    default "";
}
# The site uses no camera, microphone, location or the like: nor may anything it shows.
map $upstream_http_permissions_policy $security_permissions_policy {
    ""      "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()";
    default "";
}

# ManifestStaticFilesStorage names files like base.4f2a9c1e7d3b.css: such a
# name changes whenever the content does, so it can be cached for good.
map $uri $static_cache_control {
    "~\.[0-9a-f]{12}\.\w+$" "public, max-age=31536000, immutable";
    default                 "public, max-age=300";
}

# A private upload (/media/private/, ops/uploads.py) is kept by no cache but the browser's;
# the others are revalidated each time, as they can change under the same name.
map $request_uri $media_cache_control {
    "~^/media/private/" "private, no-store";
    default             "no-cache";
}

# Uploads a browser shows in its own viewer (raster images, PDF, plain text) open
# in the browser; every other type is only downloaded, so nothing that could
# hold script (HTML in any spelling, SVG, XML) is opened as a page.
map $sent_http_content_type $media_content_disposition {
    "~^image/(png|jpeg|gif|webp|avif)$" "";
    "~^application/pdf$"                 "";
    "~^text/plain(;|$)"                  "";
    default                              "attachment";
}

# The fronts whose word nginx takes: the deployment's TLS front, over its UNIX socket
# (compose.https.yaml), and the addresses in FORWARDED_ALLOW_IPS, a front of your own (fronts.sh
# writes them at start). Nobody else's X-Forwarded-For or X-Forwarded-Proto is believed.
# From a front, the client's address is the last one of X-Forwarded-For: the one the front saw
# (Caddy replaces a client's own header, a balancer appends to it). It is $remote_addr from here
# on: the limits per client below count clients, not the front.
set_real_ip_from unix:;
include /tmp/forwarded-allow.conf;
# While a release switches (release-pin, inv deploy): the app containers requests go to, by
# address, so a new one takes none before it is healthy. No file the rest of the time.
include /tmp/release-upstream*.conf;
real_ip_header X-Forwarded-For;
geo $realip_remote_addr $allowed_front {
    default 0;
    include /tmp/forwarded-allow.geo;
}
map "$server_addr:$allowed_front" $trusted_front {
    "~^unix:" 1;
    "~:1$"    1;
    default   0;
}
# X-Forwarded-Proto for the app: a front's, else this proxy's own scheme.
map "$trusted_front:$http_x_forwarded_proto" $forwarded_proto {
    "~^1:(?<proto>https?)$" $proto;
    default                 $scheme;
}

# One id per request, the same in this proxy's log line, the app's lines and the answer
# (X-Request-ID): a trusted front's own (its X-Request-ID, when it looks like one), else nginx's.
# A client's X-Request-ID is believed from the fronts above only.
map "$trusted_front:$http_x_request_id" $site_request_id {
    "~^1:(?<id>[A-Za-z0-9._-]{8,128})$" $id;
    default                            $request_id;
}
# The access log's lines (LOG_FORMAT): nginx's usual line with the request id and the seconds it
# took, or one JSON object a line with the same fields as the app's (docs/operating.md).
log_format plain '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                 '"$http_referer" "$http_user_agent" request_id=$site_request_id duration=$request_time';
log_format json escape=json '{"time":"$time_iso8601","level":"INFO","logger":"proxy",'
                '"request_id":"$site_request_id","method":"$request_method","path":"$uri",'
                '"status":$status,"duration":$request_time,"bytes":$body_bytes_sent,'
                '"client":"$remote_addr","user_agent":"$http_user_agent"}';

# Tries at logging in, per client: 20 at once, then one every 6 s, so never more than 30 in a
# minute (a POST to the login forms; reading them is not a try). django-axes locks an account
# after its own count of failures, whoever tries.
map $request_method $login_client {
    POST    $binary_remote_addr;
    default "";
}
limit_req_zone $login_client zone=login:10m rate=10r/m;
# Requests with a body in progress at once, per client: each may hold CLIENT_MAX_BODY_SIZE
# waiting on disk. Reading (GET, HEAD) is not limited.
map $request_method $writing_client {
    GET     "";
    HEAD    "";
    default $binary_remote_addr;
}
limit_conn_zone $writing_client zone=writes:10m;
limit_req_status 429;
limit_conn_status 429;

gzip on;
gzip_vary on;
# Compress the app's responses too (nginx skips proxied responses by default).
gzip_proxied any;
gzip_min_length 256;
# text/html is always compressed.
gzip_types text/css text/plain text/javascript application/javascript
           application/json image/svg+xml application/xml text/xml;

server_tokens off;

# Open files (static, media) stay open with what nginx knows of them (size, time),
# instead of an open, a stat and a close per request: 4-6 % more static requests a
# second (benchmarks/README.md). Checked again every 2s, so a file replaced or
# deleted on the volume is served as it was for 2s at most.
open_file_cache max=1000 inactive=60s;
open_file_cache_valid 2s;

server {
    listen ${LISTEN_PORT} default_server;
    # The TLS front's UNIX socket, when FRONT_SOCKET names one (fronts.sh).
    include /tmp/front-socket.conf;
    server_name _;
    # Seconds a client's idle connection stays open for its next request (65). A deployment
    # keeps none (0, compose.deploy.yaml): a release switch reloads nginx, which closes idle
    # connections, and a client sending on one just then would see it reset. The TLS front keeps
    # the browsers' connections alive; its own to nginx, over a UNIX socket, cost next to nothing.
    keepalive_timeout ${KEEPALIVE_TIMEOUT};
    # The image's access log (stdout), written in batches: a write, and Docker's log
    # driver's work, per 64 KB or second instead of per request. Lines show up to a
    # second late; nginx flushes them when it stops.
    access_log /var/log/nginx/access.log ${LOG_FORMAT} buffer=64k flush=1s;

    client_max_body_size ${CLIENT_MAX_BODY_SIZE};
    # A body waits here until it is whole (larger than a 16k buffer): a volume of its own
    # (compose.yaml), never memory, so uploads in flight cannot starve nginx.
    client_body_temp_path /var/cache/nginx/bodies;
    limit_conn writes 10;
    error_page 413 @upload_too_large;
    error_page 429 @too_many;
    error_page 403 @login_first;
    error_page 502 503 504 /unavailable.html;
    # nginx itself rejects a path that climbs above the root (/static/../../x)
    # with 400: answer such a request as any other missing file.
    error_page 400 /bad-request;

    # /static/... and /media/... are files in /vol/static and /vol/media.
    root /vol;

    # uWSGI's address: host:port (a variable makes nginx resolve the name at request
    # time), or unix:PATH, the socket of a single app container (compose.yaml).
    set $app ${APP_ADDRESS};
    include /tmp/release-target*.conf;

    # The forms a visitor posts: logging in and out, asking for a password reset mail. Their
    # bodies are small; the tries are limited per client (the zone `login` above): no guessing
    # passwords, no flood of mails.
    location ~ ^/((admin/)?log(in|out)|password_reset)/$ {
        limit_req zone=login burst=20 nodelay;
        client_max_body_size 16k;
        include security_headers.conf;
        uwsgi_pass $app;
        include uwsgi_params;
        uwsgi_connect_timeout 2s;
    }

    # Anything else goes on to the app, which decides who may write: its CSRF check, its
    # authentication, the view. A body is read whole to the disk first (client_body_temp_path),
    # within the limits above, whoever sends it. PROXY_WRITES_NEED_LOGIN=true adds the rule
    # "only logged-in users write" here (writes.sh, /_session below).
    location / {
        include /tmp/writes.conf;
        include security_headers.conf;
        uwsgi_pass $app;
        include uwsgi_params;
        # On the stack's own network a connect is instant or fails: do not hold the
        # client for nginx's default 60s when the app is away. A replica that is gone
        # (a failed node) costs its requests this long before nginx tries another;
        # 2s still outlasts one lost and resent SYN (Linux resends after 1s).
        uwsgi_connect_timeout 2s;
    }

    # The same, for a static file nginx does not have (below).
    location @app {
        include /tmp/writes.conf;
        include security_headers.conf;
        uwsgi_pass $app;
        include uwsgi_params;
        uwsgi_connect_timeout 2s;
    }

    # Browsers ask every site for /favicon.ico: the static file of that name.
    location = /favicon.ico {
        rewrite ^ /static/favicon.ico last;
    }

    location /static/ {
        include security_headers.conf;
        add_header Cache-Control $static_cache_control;
        # The app's start compresses the text files (FILE.gz beside FILE): sending those
        # takes half the CPU of compressing on the fly (benchmarks/README.md).
        gzip_static on;
        # Files only. One that was not collected goes to the app: in the development
        # stack nothing is collected, and Django serves the apps' folders as they are
        # now, so an edited file shows on the next request; with DEBUG off the app
        # serves no static files and answers 404.
        try_files $uri @app;
    }

    location /media/ {
        include media_headers.conf;
        # A file of the volume; else the app's answer: with uploads in a bucket
        # (MEDIA_STORAGE=s3) the address of the object, else 404.
        try_files $uri @media;
    }

    # Private uploads (upload_to=Private(...), ops/uploads.py): never a file of the volume as
    # it is; the app says who gets each, and sends nginx to it (/_private below).
    location /media/private/ {
        include /tmp/writes.conf;
        include media_headers.conf;
        uwsgi_hide_header Content-Security-Policy;
        uwsgi_pass $app;
        include uwsgi_params;
        uwsgi_connect_timeout 2s;
    }

    # A private upload of the volume, at the app's word (X-Accel-Redirect: /_private/NAME).
    location /_private/ {
        internal;
        include media_headers.conf;
        alias /vol/media/private/;
    }

    location @media {
        include /tmp/writes.conf;
        include media_headers.conf;
        # The /media/ policy alone (media_headers.conf), not the one of the app's pages.
        uwsgi_hide_header Content-Security-Policy;
        uwsgi_pass $app;
        include uwsgi_params;
        uwsgi_connect_timeout 2s;
    }

    # With PROXY_WRITES_NEED_LOGIN=true, asked before a request goes on to the app
    # (auth_request): does it come from a logged-in user? Reading needs no login. For anything
    # else the app looks at the session (ops.views.session), given the headers only: a
    # visitor's POST is refused before nginx reads a byte of its body (docs/security.md).
    location = /_session {
        internal;
        # The request's own method: a subrequest's $request_method is its main request's.
        if ($request_method ~ ^(GET|HEAD)$) {
            return 204;
        }
        uwsgi_pass $app;
        uwsgi_pass_request_body off;
        uwsgi_param REQUEST_METHOD         GET;
        uwsgi_param REQUEST_URI            /_session;
        uwsgi_param PATH_INFO              /_session;
        uwsgi_param QUERY_STRING           "";
        uwsgi_param SERVER_PROTOCOL        $server_protocol;
        uwsgi_param SERVER_NAME            $server_name;
        uwsgi_param SERVER_PORT            $server_port;
        uwsgi_param REMOTE_ADDR            $remote_addr;
        uwsgi_param HTTP_HOST              $http_host;
        uwsgi_param HTTP_X_FORWARDED_HOST  $http_host;
        uwsgi_param HTTP_X_FORWARDED_PROTO $forwarded_proto;
        uwsgi_connect_timeout 2s;
        # Only the app's clear no (403) refuses. Any other answer (the app or its database
        # away, a host it does not serve) lets the request through to the app, which answers
        # it as it always has (502, 503, 400).
        uwsgi_intercept_errors on;
        error_page 301 302 400 404 405 500 502 503 504 = @session_unknown;
    }

    location @session_unknown {
        return 204;
    }

    # The bucket's object, at the URL the app signed for this request (X-Accel-Redirect:
    # /_bucket, the URL in X-Bucket-Url): nginx fetches it, so the bucket stays private and the
    # answer is the site's, with its headers. The URL goes on exactly as the app wrote it: a
    # path nginx took apart would come decoded, and a key with a space, % or ? would break.
    location = /_bucket {
        internal;
        include media_headers.conf;
        set $bucket_url $upstream_http_x_bucket_url;
        proxy_pass $bucket_url;
        # The site's cookies and credentials are not the store's business.
        proxy_set_header Cookie "";
        proxy_set_header Authorization "";
        proxy_connect_timeout 5s;
        proxy_ssl_server_name on;
        proxy_ssl_verify on;
        proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;
        # Large objects stream through memory buffers, never a temporary file.
        proxy_max_temp_file_size 0;
        # A missing object is a plain 404 (403 when the key may not list the
        # bucket), and a store that does not answer a 503, as a database that
        # does not: never the store's own error page.
        proxy_intercept_errors on;
        error_page 403 404 =404 /_media_missing;
        error_page 500 502 503 504 =503 /unavailable.html;
    }

    location = /_media_missing {
        internal;
        include media_headers.conf;
        return 404;
    }

    # For the container healthcheck: nginx itself answers.
    location = /nginx-health {
        access_log off;
        default_type text/plain;
        return 200 "ok\n";
    }

    location @too_many {
        include security_headers.conf;
        add_header Retry-After 10 always;
        default_type text/plain;
        return 429 "Too many requests: try again in a few seconds.\n";
    }

    location @login_first {
        include security_headers.conf;
        default_type text/plain;
        return 403 "Log in first: only logged-in users may send data to this site.\n";
    }

    location @upload_too_large {
        include security_headers.conf;
        default_type text/plain;
        return 413 "Upload too large: the limit is ${CLIENT_MAX_BODY_SIZE}.\n";
    }

    location = /bad-request {
        internal;
        # $request: the request line as sent ($request_uri is empty when it failed to
        # parse); two dots, plain or percent-encoded, mean a climb.
        if ($request ~* "(\.|%2e){2}") {
            return 404;
        }
        return 400;
    }

    location = /unavailable.html {
        internal;
        include security_headers.conf;
        add_header Cache-Control "no-store" always;
        root /usr/share/nginx/html;
    }
}
