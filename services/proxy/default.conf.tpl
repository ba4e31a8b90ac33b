# nginx site config; the image's entrypoint renders it at start (the Dockerfile
# says where), replacing only the dollar-brace variables (LISTEN_PORT, APP_ADDRESS,
# CLIENT_MAX_BODY_SIZE, TRUST_FORWARDED_PROTO, NGINX_LOCAL_RESOLVERS).
# Plain $variables are nginx's own.

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

# ManifestStaticFilesStorage names files like base.4f2a9c1e7d3b.css: such a
# name changes whenever the content does, so it can be cached for good.
map $uri $static_cache_control {
    "~\.[0-9a-f]{12}\.\w+$" "public, max-age=31536000, immutable";
    default                 "public, max-age=300";
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

# X-Forwarded-Proto for the app. The deployment's TLS front (compose.https.yaml)
# comes over its UNIX socket and is trusted. Over TCP a client's value is kept
# only while TRUST_FORWARDED_PROTO is true (a front of your own on this host's
# loopback); else, and when there is none, this proxy's own scheme is sent.
map $server_addr $trusted_front {
    "~^unix:" true;
    default   "${TRUST_FORWARDED_PROTO}";
}
map "$trusted_front:$http_x_forwarded_proto" $forwarded_proto {
    "~^true:(?<proto>https?)$" $proto;
    default                    $scheme;
}

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
    # The TLS front's UNIX socket, when FRONT_SOCKET names one (front-socket.sh).
    include /tmp/front-socket.conf;
    server_name _;
    # The image's access log (stdout), written in batches: a write, and Docker's log
    # driver's work, per 64 KB or second instead of per request. Lines show up to a
    # second late; nginx flushes them when it stops.
    access_log /var/log/nginx/access.log main buffer=64k flush=1s;

    client_max_body_size ${CLIENT_MAX_BODY_SIZE};
    error_page 413 @upload_too_large;
    error_page 502 503 504 /unavailable.html;
    # nginx itself rejects a path that climbs above the root (/static/../../x)
    # with 400: answer such a request as any other missing file.
    error_page 400 /bad-request;

    # /static/... and /media/... are files in /vol/static and /vol/media.
    root /vol;

    # uWSGI's address: host:port (a variable makes nginx resolve the name at request
    # time), or unix:PATH, the socket of a single app container (compose.yaml).
    set $app ${APP_ADDRESS};

    location / {
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

    location @media {
        include media_headers.conf;
        uwsgi_pass $app;
        include uwsgi_params;
        uwsgi_connect_timeout 2s;
    }

    # The bucket's object, at the URL the app signed for this request
    # (X-Accel-Redirect: /_bucket/SCHEME/HOST/PATH?SIGNATURE): nginx fetches it,
    # so the bucket stays private and the answer is the site's, with its headers.
    location ~ ^/_bucket/(?<bucket_scheme>https?)/(?<bucket_host>[^/]+)(?<bucket_path>/.*)$ {
        internal;
        include media_headers.conf;
        proxy_pass $bucket_scheme://$bucket_host$bucket_path$is_args$args;
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
